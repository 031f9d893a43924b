"""Make an N-shot-per-species AP-10K (COCO-style) training annotation file.

Keeps N random instances with labelled keypoints of every species
(category), with a seed, and the images they are in; prints what it kept.
The paper's 20-shot setting (Table 2)::

    python tools/dataset_converters/make_fewshot_split.py \\
        data/ap10k/annotations/ap10k-train-split1.json \\
        data/ap10k/annotations/ap10k-train-split1-20shot.json \\
        --shots 20 --seed 0
"""
import argparse
import sys

from promptpose_mm.annotations import (FewShotSplitError, format_report,
                                       make_fewshot_split_file)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument('in_file', help='COCO-style annotation file to read')
    parser.add_argument('out_file', help='annotation file to write')
    parser.add_argument(
        '--shots',
        type=int,
        default=20,
        help='instances per species (default: 20)')
    parser.add_argument(
        '--seed', type=int, default=0, help='random seed (default: 0)')
    parser.add_argument(
        '--allow-fewer',
        action='store_true',
        help='keep all instances of species that have fewer than --shots '
        'instead of stopping with an error')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        report = make_fewshot_split_file(
            args.in_file,
            args.out_file,
            args.shots,
            seed=args.seed,
            allow_fewer=args.allow_fewer)
    except (FewShotSplitError, FileNotFoundError) as error:
        sys.exit(f'error: {error}')
    print(format_report(report, args.shots))
    print(f'written: {args.out_file} (seed {args.seed})')


if __name__ == '__main__':
    main()
