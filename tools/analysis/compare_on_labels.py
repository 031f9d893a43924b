"""PromptPose vs SimpleBaseline on a real labelled DeepLabCut project.

Converts the project (``config.yaml`` + ``labeled-data/*/CollectedData_*.
csv``) to COCO keypoint train/val files and an MMPose metainfo file (every
``--val-every``-th frame in file order to validation; a square box around
the labelled points, padded ``--padding`` a side), writes downstream
configs that inherit the paper's PromptPose config and its SimpleBaseline
twin (same backbone) and override only the data set, random
initialisation, the optimiser (Adam), the schedule (linear warm-up, one
step) and the seed, trains them one after the other with MMEngine's
Runner and prints a Markdown table of ``coco/AP`` and MMPose's ``EPE``
(pixels, original image) at every evaluation, plus each run's wall time.

``--ablate`` adds PromptPose runs with one part switched off each
(pixel: no pixel loss/branch; semantic: no semantic loss; prompt_encoder;
context_decoder; fusion: the score map is not concatenated into the
keypoint branch). ``--variant NAME KEY=VALUE ...`` adds any other
PromptPose variant.

Usage::

    python tools/analysis/compare_on_labels.py PROJECT_DIR \\
        --work-dir work_dirs/dlc_compare [--pair res50] [--epochs 40] \\
        [--val-interval 10] [--batch-size 16] [--lr 1e-3] [--warmup 50] \\
        [--milestones 30] [--seed 0] [--ablate pixel,semantic,...] \\
        [--only promptpose,simplebaseline] [--skip-existing]
"""
import argparse
import json
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)
CONFIG_DIR = osp.join(ROOT, 'configs', 'promptpose')
# PromptPose config and its SimpleBaseline twin (same backbone)
PAIRS = {
    'res50': ('td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py',
              'td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py'),
    'tiny': ('td-hm_promptpose-tiny-clip-rn_1xb2-500e_ap10k-256x256.py',
             'td-hm_clip-tiny-rn_1xb2-500e_ap10k-256x256.py'),
}
# the importer's options this tool takes (its --seed and --batch-size are
# the training's)
IMPORT_OPTIONS = ('val_every', 'padding', 'sigma')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from promptpose_mm.analysis.label_comparison import ABLATIONS
    from tools.cli import add_import_options
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('project', help='DeepLabCut project folder')
    parser.add_argument(
        '--work-dir', required=True, help='data, configs, logs, results')
    parser.add_argument(
        '--pair', choices=sorted(PAIRS), default='res50', help='the configs')
    parser.add_argument(
        '--configs',
        nargs=2,
        metavar=('PROMPTPOSE', 'SIMPLEBASELINE'),
        help='inherit these two configs instead of --pair')
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument(
        '--stop-at',
        type=int,
        default=None,
        help='train only the first N epochs of the --epochs schedule (the '
        'same trajectory as the full run up to N)')
    parser.add_argument('--val-interval', type=int, default=10)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--lr', type=float, default=1e-3, help='Adam lr')
    parser.add_argument(
        '--warmup', type=int, default=50, help='linear warm-up iterations')
    parser.add_argument(
        '--milestones',
        type=int,
        nargs='*',
        default=[30],
        help='epochs where the lr drops x0.1')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-workers', type=int, default=0)
    add_import_options(parser, IMPORT_OPTIONS, val_every=5)
    parser.add_argument(
        '--ablate',
        default='',
        help='comma-separated PromptPose parts to switch off, one run each: '
        f'{",".join(ABLATIONS)} (or "all")')
    parser.add_argument(
        '--variant',
        nargs='+',
        action='append',
        default=[],
        metavar='NAME KEY=VALUE',
        help='an extra PromptPose run: its name, then config overrides '
        '(e.g. model.head.pixel_loss.loss_weight=0.1); repeatable')
    parser.add_argument(
        '--only',
        default='',
        help='comma-separated run names to train (the table still lists '
        'every finished run of this comparison)')
    parser.add_argument(
        '--skip-existing',
        action='store_true',
        help='do not retrain runs that have a result.json')
    parser.add_argument(
        '--note', default='', help='a line printed under the table')
    args = parser.parse_args(argv)
    args.ablate = (
        list(ABLATIONS) if args.ablate == 'all' else
        [name for name in args.ablate.split(',') if name])
    unknown = [name for name in args.ablate if name not in ABLATIONS]
    if unknown:
        parser.error(f'--ablate: unknown parts {unknown}; choose from '
                     f'{sorted(ABLATIONS)}')
    variants = {}
    for spec in args.variant:
        name, *options = spec
        action = DictAction(option_strings=[], dest='variant')
        namespace = argparse.Namespace(variant=None)
        action(parser, namespace, options)
        variants[name] = namespace.variant or {}
    args.variants = variants
    return args


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    from mmengine.logging import print_log

    from promptpose_mm.analysis import label_comparison as comparison
    from promptpose_mm.annotations import import_labels
    from tools.cli import import_options
    if args.configs:
        promptpose_config, baseline_config = args.configs
    else:
        promptpose_config, baseline_config = (
            osp.join(CONFIG_DIR, name) for name in PAIRS[args.pair])
    data = import_labels(
        args.project,
        osp.join(args.work_dir, 'data'),
        base_config=promptpose_config,
        **import_options(args, IMPORT_OPTIONS))
    print_log(
        f'converted {args.project}: {data["num_train"]} training and '
        f'{data["num_val"]} validation frames, {data["num_keypoints"]} '
        f'keypoints -> {osp.dirname(data["train"])}',
        logger='current')
    protocol = comparison.Protocol(
        epochs=args.epochs,
        val_interval=args.val_interval,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_iters=args.warmup,
        milestones=tuple(args.milestones),
        seed=args.seed,
        num_workers=args.num_workers,
        stop_epoch=args.stop_at)
    configs = comparison.write_protocol_configs(
        data,
        osp.join(args.work_dir, 'configs'),
        promptpose_config,
        baseline_config,
        protocol,
        ablations=args.ablate,
        variants=args.variants)
    only = [name for name in args.only.split(',') if name]
    unknown = [name for name in only if name not in configs]
    if unknown:
        raise SystemExit(f'--only: unknown runs {unknown}; this comparison '
                         f'has {list(configs)}')
    results = {}
    for name, config in configs.items():
        run_dir = osp.join(args.work_dir, 'runs', name)
        result = comparison.load_result(run_dir)
        if (not only or name
                in only) and not (args.skip_existing and result is not None):
            print_log(f'training {name} ({config})', logger='current')
            result = comparison.run_training(config, run_dir)
        if result is not None:
            results[name] = result
    stopped = f' stopped at epoch {args.stop_at}' if args.stop_at else ''
    note = args.note or (
        f'{data["num_train"]} training / {data["num_val"]} validation '
        f'frames; {args.epochs}-epoch schedule{stopped}, batch '
        f'{args.batch_size}, Adam lr '
        f'{args.lr:g}, {args.warmup}-iteration warm-up, x0.1 at epochs '
        f'{args.milestones}, seed {args.seed}, random weights; AP: '
        f'CocoMetric (OKS sigma {args.sigma:g}), EPE: pixels')
    table = comparison.format_comparison(results, note)
    with open(osp.join(args.work_dir, 'comparison.md'), 'w') as file:
        file.write(table + '\n')
    with open(osp.join(args.work_dir, 'comparison.json'), 'w') as file:
        json.dump(results, file, indent=1)
    print(table)
    return table


if __name__ == '__main__':
    main()
