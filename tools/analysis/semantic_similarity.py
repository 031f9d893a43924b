"""Semantic-level similarity of keypoint features and prompts (Figure 2).

Reads the dense CLIP-space map of a PromptPose model at the ground-truth
keypoints of every annotated instance, compares it with every keypoint
prompt (cosine similarity), averages over the instances and draws the
labelled K x K matrix. Rows of keypoints never labelled stay blank.

Usage::

    python tools/analysis/semantic_similarity.py CONFIG CHECKPOINT \\
        --ann-file tests/data/ap10k/test_ap10k.json \\
        [--img-dir DIR] [--out-file work_dirs/analysis/similarity.png]
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='PromptPose config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--ann-file', required=True, help='COCO-style keypoint annotations')
    parser.add_argument(
        '--img-dir',
        default=None,
        help="image folder (default: the annotation file's folder)")
    parser.add_argument(
        '--out-file',
        default='work_dirs/analysis/semantic_similarity.png',
        help='PNG to write')
    cli.add_device(parser)
    cli.add_precision(parser)
    cli.add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    import promptpose_mm  # noqa: F401  (registers the plugin)
    from promptpose_mm.analysis import semantic_similarity
    from promptpose_mm.analysis.figures import draw_similarity_matrix
    from promptpose_mm.apis import init_model
    from promptpose_mm.io.coco import load_coco_images
    images = load_coco_images(args.ann_file, args.img_dir)
    model = init_model(
        args.config,
        args.checkpoint,
        device=args.device,
        precision=args.precision,
        cfg_options=args.cfg_options)
    result = semantic_similarity(model, images)
    instances = sum(len(image.bboxes) for image in images)
    out_file = draw_similarity_matrix(
        result.similarity,
        result.names,
        args.out_file,
        title=f'semantic-level similarity ({instances} instances)')
    labelled = result.counts > 0
    if labelled.any():
        rows = result.similarity[labelled]
        diagonal = np.eye(len(labelled), dtype=bool)[labelled]
        print(f'{instances} instances; mean cosine similarity of a keypoint '
              f'feature with its own prompt {rows[diagonal].mean():.3f}, '
              f'with the other prompts {rows[~diagonal].mean():.3f}')
    unlabelled = [n for n, ok in zip(result.names, labelled) if not ok]
    if unlabelled:
        print(f'never labelled (blank rows): {", ".join(unlabelled)}')
    print(f'written {osp.abspath(out_file)}')
    return out_file


if __name__ == '__main__':
    main()
