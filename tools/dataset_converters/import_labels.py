"""Import a DeepLabCut project or a SLEAP file as a PromptPose data set.

Reads the labels (a DeepLabCut project folder with config.yaml and
labeled-data/, single- or multi-animal, .h5 or .csv tables; or a SLEAP
.slp / .pkg.slp file), and writes COCO keypoint train and val files, an
MMPose metainfo file and a config that inherits a PromptPose paper config
and states only this data set. It prints frames, instances and points per
split and everything it skipped, and why. Then train with the printed
command::

    python tools/dataset_converters/import_labels.py \\
        ~/dlc/Reaching-Mackenzie-2018-08-30 work_dirs/reaching
    mim train mmpose work_dirs/reaching/td-hm_promptpose-clip-rn50_\\
8xb16-210e_reaching.py

Boxes: --box animal (default) crops a square around the labelled points,
padded --padding of its side on every side; --box frame uses the whole
image (fixed-camera videos of one animal, as DeepLabCut trains). The mode
is recorded in the config (label_import) for inference.
"""
import argparse
import sys
from typing import Optional, Sequence, Tuple

from promptpose_mm.annotations import import_labels
from promptpose_mm.annotations.labels import LabelError
from promptpose_mm.utils.installed_configs import PAPER_CONFIGS


def input_size(text: str) -> Tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r}: give WIDTHxHEIGHT, e.g. 256x256') from None
    return width, height


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument(
        'source', help='DeepLabCut project folder or SLEAP .slp file')
    parser.add_argument('out_dir', help='folder for the data set and config')
    parser.add_argument(
        '--backbone',
        choices=sorted(PAPER_CONFIGS),
        default='rn50',
        help='the paper config to inherit (default: rn50)')
    parser.add_argument(
        '--base-config', help='inherit this config instead of a paper config')
    parser.add_argument(
        '--input-size',
        type=input_size,
        help='crop WIDTHxHEIGHT, multiples of 32 (default: as the base '
        'config, 256x256)')
    parser.add_argument(
        '--box',
        choices=('animal', 'frame'),
        default='animal',
        help='box around the labelled points, or the whole frame')
    parser.add_argument(
        '--padding',
        type=float,
        default=0.25,
        help='animal box padding per side, a fraction of its side '
        '(default: 0.25)')
    parser.add_argument(
        '--val-fraction',
        type=float,
        default=0.2,
        help='share held out for validation, by video when there are '
        'several (default: 0.2)')
    parser.add_argument(
        '--val-every',
        type=int,
        help='every N-th frame in file order to validation instead')
    parser.add_argument(
        '--seed', type=int, default=0, help='split seed (default: 0)')
    parser.add_argument(
        '--sigma',
        type=float,
        default=0.025,
        help='OKS sigma of every keypoint (default: 0.025)')
    parser.add_argument(
        '--batch-size',
        type=int,
        help='per-GPU batch (default: as the base config)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    try:
        result = import_labels(
            args.source,
            args.out_dir,
            backbone=args.backbone,
            base_config=args.base_config,
            input_size=args.input_size,
            box_mode=args.box,
            padding=args.padding,
            val_fraction=args.val_fraction,
            seed=args.seed,
            val_every=args.val_every,
            sigma=args.sigma,
            batch_size=args.batch_size)
    except (LabelError, FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    print(result['text'])
    return result


if __name__ == '__main__':
    main()
