"""Frames per second of video analysis: tiny and paper configs, batch 1 and 16.

Writes a synthetic video (a drawn mouse walking, FFV1 in AVI, 640x480 by
default), builds each config's model with random weights (nothing is
downloaded), and times ``promptpose_mm.apis.analyze_video`` over it with
whole-frame boxes and the configs' flip test: decoding (in its background
thread), the test pipeline, the model and the decoding of heatmaps, after
a warm-up call. As the video tool does, freed CPU memory is kept for the
next batch (``--default-malloc``: the C library's default). Prints a
Markdown table with the machine::

    python benchmarks/video_fps.py [--frames 32] [--batch-sizes 1 16] \\
        [--device cpu] [--configs tiny rn50 vit-b16]
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
from typing import Optional, Sequence

from promptpose_mm.utils.installed_configs import PAPER_CONFIGS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)
# the tiny config and the paper configs (by backbone), under configs/
CONFIGS = dict(
    tiny='promptpose/td-hm_promptpose-tiny-clip-rn_1xb2-500e_ap10k-256x256.py',
    **PAPER_CONFIGS)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 16])
    parser.add_argument(
        '--frames',
        type=int,
        default=32,
        help='frames of the timed video (default: 32)')
    parser.add_argument(
        '--size', nargs=2, type=int, default=[640, 480], metavar=('W', 'H'))
    parser.add_argument('--device', default='cpu')
    cli.add_default_malloc(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    from benchmarks.speed import describe_machine, markdown_table
    from promptpose_mm.apis import analyze_video, build_inference_model
    from tools.cli import keep_freed_memory
    keep_freed_memory(args)
    from promptpose_mm.testing.label_projects import write_animal_video
    folder = tempfile.mkdtemp(prefix='video_fps_')
    video = osp.join(folder, 'walk.avi')
    write_animal_video(video, frames=args.frames, size=tuple(args.size))
    rows = []
    for name in args.configs:
        model = build_inference_model(
            osp.join(ROOT, 'configs', CONFIGS[name]), args.device)
        for batch in args.batch_sizes:
            analyze_video(
                model, video, 'frame', batch_size=batch,
                progress=False)  # warm-up
            start = time.perf_counter()
            analyze_video(
                model, video, 'frame', batch_size=batch, progress=False)
            seconds = time.perf_counter() - start
            rows.append([
                name,
                str(batch), f'{args.frames / seconds:.2f}',
                f'{1000 * seconds / args.frames:.0f}'
            ])
    table = '\n'.join(
        markdown_table(['config', 'batch', 'frames/s', 'ms/frame'], rows))
    machine = (f'{describe_machine(args.device)}; {args.frames} frames of '
               f'{args.size[0]}x{args.size[1]}, flip test on, random weights')
    print(table)
    print(machine)
    return table


if __name__ == '__main__':
    main()
