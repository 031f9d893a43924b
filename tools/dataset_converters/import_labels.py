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
import os.path as osp
import sys
from typing import Optional, Sequence

from promptpose_mm.annotations import import_labels
from promptpose_mm.io.labels import LabelError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools.cli import add_import_options, tool_parser
    parser = tool_parser(__doc__)
    parser.add_argument(
        'source', help='DeepLabCut project folder or SLEAP .slp file')
    parser.add_argument('out_dir', help='folder for the data set and config')
    add_import_options(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    from tools.cli import import_options
    args = parse_args(argv)
    try:
        result = import_labels(args.source, args.out_dir,
                               **import_options(args))
    except (LabelError, FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    print(result['text'])
    return result


if __name__ == '__main__':
    main()
