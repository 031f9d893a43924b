"""Ground truth next to two models' predictions, image by image (Figure 4).

Runs both models (e.g. PromptPose and SimpleBaseline) on the annotated
boxes of a COCO-style file and draws one row per image with the columns
ground truth | model A | model B, skeleton and colours from the dataset
meta-information.

Usage::

    python tools/analysis/compare_predictions.py \\
        CONFIG_A CHECKPOINT_A CONFIG_B CHECKPOINT_B \\
        --ann-file tests/data/ap10k/test_ap10k.json \\
        [--names PromptPose SimpleBaseline] [--out-file FILE.png]
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config_a', help="first model's config")
    parser.add_argument('checkpoint_a', help="first model's checkpoint")
    parser.add_argument('config_b', help="second model's config")
    parser.add_argument('checkpoint_b', help="second model's checkpoint")
    parser.add_argument(
        '--ann-file', required=True, help='COCO-style keypoint annotations')
    parser.add_argument(
        '--img-dir',
        default=None,
        help="image folder (default: the annotation file's folder)")
    parser.add_argument(
        '--images',
        nargs='+',
        default=None,
        help='only these file names of the annotation file, in this order')
    parser.add_argument(
        '--max-images', type=int, default=8, help='at most this many rows')
    parser.add_argument(
        '--names',
        nargs=2,
        default=('PromptPose', 'SimpleBaseline'),
        metavar=('NAME_A', 'NAME_B'),
        help='column titles of the two models')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw predicted keypoints scoring at least this')
    parser.add_argument(
        '--out-file',
        default='work_dirs/analysis/compare_predictions.png',
        help='PNG to write')
    cli.add_device(parser)
    cli.add_precision(parser)
    for side, which in (('a', 'the first config'), ('b', 'the second')):
        cli.add_cfg_options(parser, f'--cfg-options-{side}', which)
    args = parser.parse_args(argv)
    if args.names[0] == args.names[1]:
        parser.error(f'--names must differ, got {args.names[0]!r} twice')
    if args.max_images < 1:
        parser.error('--max-images must be at least 1')
    return args


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    import mmcv

    import promptpose_mm  # noqa: F401  (registers the plugin)
    from promptpose_mm.analysis import compare_poses
    from promptpose_mm.analysis.figures import draw_pose_comparison
    from promptpose_mm.apis import init_model
    from promptpose_mm.io.coco import load_coco_images
    images = load_coco_images(args.ann_file, args.img_dir,
                              args.images)[:args.max_images]
    models = {
        name: init_model(config, checkpoint, args.device, options,
                         args.precision)
        for name, config, checkpoint, options in ((args.names[0],
                                                   args.config_a,
                                                   args.checkpoint_a,
                                                   args.cfg_options_a),
                                                  (args.names[1],
                                                   args.config_b,
                                                   args.checkpoint_b,
                                                   args.cfg_options_b))
    }
    comparison = compare_poses(models, images)
    meta = next(iter(models.values())).dataset_meta
    out_file = draw_pose_comparison(
        [mmcv.imread(image.path, channel_order='rgb') for image in images],
        comparison.poses,
        comparison.titles,
        meta.get('skeleton_links', []),
        args.out_file,
        keypoint_colors=meta.get('keypoint_colors'),
        link_colors=meta.get('skeleton_link_colors'),
        boxes=[image.bboxes for image in images],
        row_labels=[osp.basename(image.path) for image in images],
        score_thr=args.score_thr)
    print(f'written {osp.abspath(out_file)}')
    return out_file


if __name__ == '__main__':
    main()
