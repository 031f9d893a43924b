"""Training and inference speed and peak memory: PromptPose vs SimpleBaseline.

Builds both models of a pair with random weights (nothing is loaded or
downloaded), feeds them a synthetic batch of the configs' input size
(targets from the config's own codec) and measures them interleaved
(A, B, A, B, ...) after a warm-up: training steps (forward, backward,
optimizer step), inference with and without the flip test, and peak memory
(see benchmarks/speed.py for exactly what is counted).
Prints a table of medians (IQR), the ratio PromptPose / SimpleBaseline of
the medians and the median of the ratios within each repeat (paired), with
the machine. ``--no-training`` measures inference only. ``--breakdown``
adds a table of each PromptPose part timed alone
(benchmarks/cost_breakdown.py) against SimpleBaseline's step.
``--phases`` instead times the training step phase by phase against
each phase's arithmetic, with the operators whose time differs most
(benchmarks/step_phases.py). ``--precisions float32 bfloat16`` instead
measures the first config at two precisions: inference in that precision
(``model.precision``) and training under ``--amp``'s optimiser wrapper
(bfloat16 autocast on a CPU).

Usage::

    python benchmarks/benchmark.py --pair res50 [--batch-size 16] \\
        [--repeats 5] [--warmup 2] [--iters 3] [--device cpu] [--breakdown]
    python benchmarks/benchmark.py --configs A.py B.py
    python benchmarks/benchmark.py --pair res50 --phases   # step phases
    python benchmarks/benchmark.py --pair vit-b --no-training --repeats 15
    python benchmarks/benchmark.py --pair res50 --default-malloc
    python benchmarks/benchmark.py --pair res50 --precisions float32 bfloat16

Training keeps freed CPU memory for the next step (CPUMemoryReuseHook in
the configs), and so does the benchmark; ``--default-malloc`` measures with
glibc's default allocator instead.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence, Tuple

PRECISIONS = ('float32', 'bfloat16', 'float16')

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)
CONFIG_DIR = osp.join(ROOT, 'configs', 'promptpose')
# PromptPose config and its SimpleBaseline (same backbone and input size)
PAIRS = {
    'res50': ('td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py',
              'td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py'),
    'vit-b': ('td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256.py',
              'td-hm_clip-vit-b16_8xb16-210e_ap10k-256x256.py'),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--pair',
        choices=sorted(PAIRS),
        default='res50',
        help="the paper's configs to compare")
    parser.add_argument(
        '--configs',
        nargs=2,
        metavar=('CONFIG_A', 'CONFIG_B'),
        help='compare these two configs instead of --pair')
    parser.add_argument(
        '--names',
        nargs=2,
        default=('PromptPose', 'SimpleBaseline'),
        metavar=('NAME_A', 'NAME_B'),
        help="the two models' names in the table")
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument(
        '--repeats', type=int, default=5, help='timed repeats per metric')
    parser.add_argument(
        '--warmup', type=int, default=2, help='untimed steps, each kind')
    parser.add_argument(
        '--iters', type=int, default=3, help='steps per timed repeat')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--breakdown',
        action='store_true',
        help='also time each PromptPose part alone (config A must be a '
        'PromptPose model) and print how much of the difference each '
        'explains')
    parser.add_argument(
        '--phases',
        action='store_true',
        help='instead: time the training step phase by phase (forward, '
        'backward, optimizer, ...) against the arithmetic of each, and '
        'list the operators whose own time differs most (torch.profiler)')
    parser.add_argument(
        '--no-training',
        action='store_true',
        help='measure inference only (a third of the time: more repeats '
        'for the same wait)')
    parser.add_argument(
        '--precisions',
        nargs=2,
        choices=PRECISIONS,
        metavar=('PRECISION_A', 'PRECISION_B'),
        help='compare the first config at these two precisions instead '
        '(e.g. float32 bfloat16)')
    cli.add_default_malloc(parser)
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    if args.precisions:
        if args.precisions[0] == args.precisions[1]:
            parser.error('--precisions must differ')
        args.names = tuple(args.precisions)
    if args.no_training and (args.breakdown or args.phases):
        parser.error('--breakdown and --phases measure training: drop '
                     '--no-training')
    if args.names[0] == args.names[1]:
        parser.error(f'--names must differ, got {args.names[0]!r} twice')
    for config in _configs(args):
        if not osp.isfile(config):
            parser.error(f'config {config!r} does not exist')
    return args


def _configs(args: argparse.Namespace) -> Tuple[str, str]:
    if args.configs:
        return tuple(args.configs)
    return tuple(osp.join(CONFIG_DIR, name) for name in PAIRS[args.pair])


def main(argv: Optional[Sequence[str]] = None):
    """Run the benchmark; returns ``(BenchmarkResult, table text)``."""
    args = parse_args(argv)
    from mmengine.config import Config

    import promptpose_mm  # noqa: F401  (registers the plugin)
    from benchmarks.speed import format_table, run_benchmark
    from tools.cli import keep_freed_memory
    keep_freed_memory(args)
    configs = {
        name: Config.fromfile(path)
        for name, path in zip(args.names, _configs(args))
    }
    if args.precisions:
        path = _configs(args)[0]
        configs = {
            precision:
            at_precision(Config.fromfile(path), precision, args.device)
            for precision in args.precisions
        }
    if args.phases:
        return phases(configs, args)
    result = run_benchmark(
        configs,
        iters=args.iters,
        training=not args.no_training,
        **_run_options(args))
    table = format_table(result)
    _print_with_configs(table, args)
    if args.breakdown:
        parts = breakdown(result, configs[args.names[0]], args)
        print('\n' + parts)
        table += '\n\n' + parts
    return result, table


def at_precision(cfg, precision: str, device: str):
    """``cfg`` running in ``precision``: its model's inference, and its
    training through the optimiser wrapper ``--amp`` sets (bfloat16
    autocast on a CPU, MMEngine's on CUDA)."""
    from promptpose_mm.utils.precision import resolve_precision
    resolved = resolve_precision(precision, device)
    cfg.model.precision = resolved
    if resolved != 'float32':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.dtype = resolved
        if resolved == 'float16':
            cfg.optim_wrapper.loss_scale = 'dynamic'
    return cfg


def _run_options(args: argparse.Namespace) -> dict:
    """The options both measurements take."""
    return dict(
        batch_size=args.batch_size,
        repeats=args.repeats,
        warmup=args.warmup,
        device=args.device,
        progress=not args.no_progress,
        seed=args.seed)


def _print_with_configs(table: str, args: argparse.Namespace) -> None:
    paths = _configs(args)
    if args.precisions:
        paths = (paths[0], paths[0])
    print(
        '\n'.join([f'{name}: {path}'
                   for name, path in zip(args.names, paths)] + [table]))


def phases(configs, args: argparse.Namespace):
    """The training step phase by phase; returns ``(PhaseResult, text)``."""
    from benchmarks.step_phases import format_phases, run_phases
    table = format_phases(result := run_phases(configs, **_run_options(args)))
    _print_with_configs(table, args)
    return result, table


def breakdown(result, cfg, args: argparse.Namespace) -> str:
    """Time PromptPose's own parts and tabulate them against the steps."""
    import torch

    from benchmarks.cost_breakdown import format_parts, time_parts
    from benchmarks.speed import (PLAIN_THROUGHPUT, TRAIN_THROUGHPUT,
                                  build_random_model, median_iqr,
                                  synthetic_batch)
    torch.manual_seed(args.seed)
    model = build_random_model(cfg, args.device)
    batch = synthetic_batch(cfg, args.batch_size, args.device, args.seed)
    parts = time_parts(
        model,
        batch,
        repeats=args.repeats,
        warmup=args.warmup,
        device=args.device)
    first, second = result.names
    seconds = {}
    for kind, metric in (('inference', PLAIN_THROUGHPUT), ('training',
                                                           TRAIN_THROUGHPUT)):
        seconds[kind] = [
            result.batch_size / median_iqr(result.samples[metric][name])[0]
            for name in (first, second)
        ]
    return format_parts(
        parts,
        baseline={
            kind: both[1]
            for kind, both in seconds.items()
        },
        difference={
            kind: both[0] - both[1]
            for kind, both in seconds.items()
        })


if __name__ == '__main__':
    main()
