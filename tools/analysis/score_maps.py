"""Pixel-level score map of every keypoint prompt over the crop (Figure 3).

For each instance (a box of an image) draws a labelled grid: the input crop
with the cosine similarity between each keypoint prompt and every location
of the CLIP-space feature map laid over it.

Boxes: ``--bbox`` (applied to every image given), or the annotated boxes of
``--ann-file`` (all its images when none is given), or else the whole
image.

Usage::

    python tools/analysis/score_maps.py CONFIG CHECKPOINT img.jpg \\
        [--bbox X1 Y1 X2 Y2] [--out-dir work_dirs/analysis/score_maps]
    python tools/analysis/score_maps.py CONFIG CHECKPOINT \\
        --ann-file tests/data/ap10k/test_ap10k.json
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='PromptPose config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        'images',
        nargs='*',
        help='image files (with --ann-file: file names in that file)')
    cli.add_box(parser, '--bbox',
                'a box (repeat for several), used for every image')
    parser.add_argument(
        '--ann-file', help='COCO-style annotations: take their boxes')
    parser.add_argument(
        '--img-dir',
        default=None,
        help='image folder of --ann-file (default: its folder)')
    parser.add_argument(
        '--out-dir',
        default='work_dirs/analysis/score_maps',
        help='folder for the PNGs (<image>_score_maps_<box>.png)')
    parser.add_argument('--ncols', type=int, default=6, help='panels a row')
    cli.add_device(parser)
    cli.add_precision(parser)
    cli.add_cfg_options(parser)
    args = parser.parse_args(argv)
    if args.ann_file is None and not args.images:
        parser.error('give image files, or --ann-file')
    if args.ann_file is not None and args.bbox:
        parser.error('--bbox and --ann-file both give boxes: pick one')
    for image in args.images if args.ann_file is None else ():
        if not osp.isfile(image):
            parser.error(f'image {image!r} does not exist')
    return args


def _inputs(args: argparse.Namespace) -> List[tuple]:
    """(image path, boxes or None) pairs."""
    if args.ann_file is None:
        return [(image, args.bbox) for image in args.images]
    from promptpose_mm.io.coco import load_coco_images
    images = load_coco_images(args.ann_file, args.img_dir, args.images or None)
    return [(image.path, image.bboxes) for image in images]


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    args = parse_args(argv)
    import promptpose_mm  # noqa: F401  (registers the plugin)
    from promptpose_mm.analysis import capture_prompt_features
    from promptpose_mm.analysis.figures import draw_score_map_grid
    from promptpose_mm.apis import init_model
    model = init_model(
        args.config,
        args.checkpoint,
        device=args.device,
        precision=args.precision,
        cfg_options=args.cfg_options)
    names = model.neck.keypoint_names
    written = []
    for path, bboxes in _inputs(args):
        out = capture_prompt_features(model, path, bboxes)
        stem = osp.splitext(osp.basename(path))[0]
        for index, (crop, score_map) in enumerate(
                zip(out.crops, out.features.score_map)):
            written.append(
                draw_score_map_grid(
                    crop,
                    score_map.cpu().numpy(),
                    names,
                    osp.join(args.out_dir, f'{stem}_score_maps_{index}.png'),
                    ncols=args.ncols,
                    title=f'{stem}, box {index}: keypoint prompt score '
                    'maps'))
            print(f'written {osp.abspath(written[-1])}')
    return written


if __name__ == '__main__':
    main()
