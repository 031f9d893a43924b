"""The main job: PromptPose end to end on the bundled AP-10K samples (CPU).

1. writes a tiny CLIP model with random weights as a TorchScript archive,
   the format of OpenAI's released ``RN50.pt``, and loads it through the
   same code path as the real weights;
2. evaluates the untrained model with MMPose's ``CocoMetric`` (OKS AP);
3. trains the tiny PromptPose config (``configs/promptpose_tiny_ap10k.py``)
   on the samples, with MMEngine's progress log;
4. evaluates the trained checkpoint (loaded back from disk);
5. draws the predictions on the images and each keypoint's score map.

Usage::

    python tools/demo.py [--work-dir work_dirs/demo] [--epochs 30]

Everything is written under the work directory, which is printed at the end.
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Optional, Sequence

import mmcv
from mmengine.config import Config
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'promptpose_tiny_ap10k.py')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG, help='config file')
    parser.add_argument(
        '--work-dir',
        default=osp.join(ROOT, 'work_dirs', 'demo'),
        help='where logs, checkpoints and pictures go')
    parser.add_argument(
        '--epochs', type=int, default=None, help='override max_epochs')
    return parser.parse_args(argv)


def with_clip_archive(cfg: Config, archive: str) -> Config:
    """Point the backbone and the text encoder at a CLIP archive."""
    pretrained = dict(type='PretrainedCLIP', checkpoint=archive)
    cfg.model.backbone.init_cfg = pretrained
    cfg.model.neck.init_cfg = pretrained
    return cfg


def evaluate_untrained(cfg: Config, work_dir: str) -> dict:
    """OKS AP of the model as initialised (CLIP weights, random heads)."""
    cfg = cfg.copy()
    cfg.work_dir = osp.join(work_dir, 'untrained')
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    return runner.test()


def draw_results(cfg: Config, checkpoint: str, out_dir: str) -> list:
    """Predictions drawn on the images and score-map grids, per instance."""
    from mmpose.registry import VISUALIZERS

    from promptpose_mm.analysis import capture_prompt_features
    from promptpose_mm.analysis.figures import draw_score_map_grid
    from promptpose_mm.apis import init_model
    model = init_model(cfg, checkpoint, device='cpu')
    visualizer = VISUALIZERS.build(cfg.visualizer)
    visualizer.set_dataset_meta(model.dataset_meta)
    names = model.neck.keypoint_names
    data_root = cfg.test_dataloader.dataset.data_root
    with open(cfg.test_evaluator.ann_file) as f:
        coco = json.load(f)
    images = {image['id']: image for image in coco['images']}
    written = []
    for ann in coco['annotations']:
        image = images[ann['image_id']]
        path = osp.join(data_root, image['file_name'])
        x, y, w, h = ann['bbox']
        out = capture_prompt_features(model, path, [[x, y, x + w, y + h]])
        stem = osp.splitext(image['file_name'])[0]
        drawn = osp.join(out_dir, f'{stem}_pose.jpg')
        visualizer.add_datasample(
            stem,
            mmcv.imread(path, channel_order='rgb'),
            data_sample=out.results[0],
            draw_gt=False,
            draw_bbox=True,
            show=False,
            out_file=drawn)
        grid = draw_score_map_grid(
            out.crops[0],
            out.features.score_map[0].numpy(),
            names,
            osp.join(out_dir, f'{stem}_score_maps.png'),
            title=f'{stem}: keypoint prompt score maps')
        written += [drawn, grid]
    return written


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the demo; returns ``dict(untrained=..., trained=...)`` metrics."""
    args = parse_args(argv)
    import promptpose_mm  # noqa: F401  (registers the plugin)
    from promptpose_mm.testing import build_tiny_clip, save_clip_archive
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()

    archive = save_clip_archive(
        build_tiny_clip('resnet', seed=0), osp.join(work_dir,
                                                    'tiny_clip_rn.pt'))
    cfg = with_clip_archive(Config.fromfile(args.config), archive)
    cfg.work_dir = work_dir
    if args.epochs is not None:
        cfg.train_cfg.max_epochs = args.epochs
        cfg.train_cfg.val_interval = args.epochs

    before = evaluate_untrained(cfg, work_dir)
    runner = Runner.from_cfg(cfg)
    runner.train()
    checkpoint = osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    cfg.load_from = checkpoint
    after = Runner.from_cfg(cfg).test()
    pictures = draw_results(cfg, checkpoint, osp.join(work_dir, 'vis'))

    rows = [('metric', 'untrained', 'trained')]
    rows += [(key, f'{before[key]:.3f}', f'{after[key]:.3f}')
             for key in ('coco/AP', 'coco/AP .5', 'coco/AR')]
    print('\nPromptPose demo (tiny CLIP, bundled AP-10K samples, CPU)')
    for row in rows:
        print(f'  {row[0]:<12} {row[1]:>10} {row[2]:>10}')
    print(f'  checkpoint   {checkpoint}')
    for picture in pictures:
        print(f'  picture      {picture}')
    print(f'  work dir     {work_dir}  ({time.time() - start:.0f} s)')
    with open(osp.join(work_dir, 'metrics.json'), 'w') as f:
        json.dump(dict(untrained=before, trained=after), f, indent=2)
    if not after['coco/AP'] > before['coco/AP']:
        raise SystemExit('training did not improve the AP: see the log in '
                         f'{work_dir}')
    return dict(untrained=before, trained=after, pictures=pictures)


if __name__ == '__main__':
    main()
