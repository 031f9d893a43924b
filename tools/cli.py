"""Command-line arguments the tools share, declared once.

The tools that run a model (``tools/inference.py``, ``tools/analyze_video.py``
and the analysis tools) take the same names, defaults and help for the same
things: the pose model, the device, boxes and the detector, with MMPose's
demo names for the thresholds (``--bbox-thr``, ``--nms-thr``, ``--kpt-thr``).

The options of :func:`~promptpose_mm.annotations.import_labels`:
``tools/dataset_converters/import_labels.py`` takes them all and
``tools/analysis/compare_on_labels.py`` the split and box ones. Each option
stores under the name of the function's argument, with the function's
default unless the tool gives another, so that
``import_labels(source, out_dir, **import_options(args))`` is the whole
call.

The tools, run as scripts, put the repository root on ``sys.path`` and
import this module as ``tools.cli``; nothing in the package imports it.
"""
import argparse
import inspect
from typing import Dict, Optional, Sequence, Tuple

from promptpose_mm.annotations.importer import import_labels
from promptpose_mm.apis.inference import (ANIMAL_DET_CAT_IDS,
                                          build_pose_inferencer)
from promptpose_mm.deployment import is_onnx_file
from promptpose_mm.io.coco import BOX_MODES
from promptpose_mm.utils import reuse_freed_cpu_memory
from promptpose_mm.utils.installed_configs import PAPER_CONFIGS
from promptpose_mm.utils.precision import PRECISIONS

BOX_METAVAR = ('X1', 'Y1', 'X2', 'Y2')
BACKENDS = ('pytorch', 'onnxruntime')
BACKEND_FILES = dict(
    pytorch='a .pth checkpoint', onnxruntime='an exported .onnx file')
# option: (default, help) of the detector's thresholds
DETECTOR_THRESHOLDS = {
    '--bbox-thr': (0.3, 'detector boxes scoring below it are dropped'),
    '--nms-thr': (0.3, 'box NMS IoU threshold'),
}


def tool_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by ``doc``'s first line, with the rest of ``doc``
    (the examples) as its epilog, kept as written."""
    summary, _, details = doc.partition('\n')
    return argparse.ArgumentParser(
        description=summary,
        epilog=details,
        formatter_class=argparse.RawDescriptionHelpFormatter)


def add_cfg_options(parser: argparse.ArgumentParser,
                    option: str = '--cfg-options',
                    which: str = 'the config') -> None:
    """``--cfg-options key=value ...``: MMEngine's config overrides."""
    from mmengine.config import DictAction
    parser.add_argument(
        option,
        nargs='+',
        action=DictAction,
        help=f'override settings of {which}, key=value')


def add_default_malloc(parser: argparse.ArgumentParser) -> None:
    """``--default-malloc``: keep the C library's default allocator; without
    it a tool keeps freed CPU memory as training does (see
    :func:`keep_freed_memory`)."""
    parser.add_argument(
        '--default-malloc',
        action='store_true',
        help="keep the C library's default allocator (glibc hands large "
        'freed blocks back to the system, so every step or batch faults '
        'them in again); by default freed memory is kept for the next, as '
        'training does (CPUMemoryReuseHook)')


def keep_freed_memory(args: argparse.Namespace) -> None:
    """Unless ``--default-malloc`` (:func:`add_default_malloc`) was given,
    keep freed CPU memory in the process for the next batch, as training
    does (:func:`~promptpose_mm.utils.reuse_freed_cpu_memory`): batched
    inference on the CPU then no longer faults its large activations in
    again at every call."""
    if not args.default_malloc:
        reuse_freed_cpu_memory()


def add_device(parser: argparse.ArgumentParser,
               default: Optional[str] = 'cpu') -> None:
    """``--device``: where the model runs."""
    parser.add_argument(
        '--device', default=default, help=f'cpu, cuda:0, ... ({default})')


def add_pose_model(parser: argparse.ArgumentParser,
                   device: Optional[str] = 'cpu') -> None:
    """``--config``, ``--checkpoint`` (both required), ``--backend``,
    ``--default-malloc``, ``--device`` and ``--precision``; check the
    backend with :func:`check_backend`, then call
    :func:`keep_freed_memory`."""
    for option, what in (('--config', 'pose config'),
                         ('--checkpoint',
                          'pose weights (.pth), or an exported .onnx file')):
        parser.add_argument(option, required=True, help=what)
    parser.add_argument(
        '--backend',
        choices=BACKENDS,
        help='pytorch (a .pth checkpoint) or onnxruntime (a .onnx file from '
        'tools/deployment/export_onnx.py); default: by the checkpoint')
    add_default_malloc(parser)
    add_device(parser, device)
    add_precision(parser)


def add_precision(parser: argparse.ArgumentParser) -> None:
    """``--precision``: the pose model's inference precision."""
    parser.add_argument(
        '--precision',
        choices=PRECISIONS,
        help='inference precision: bfloat16 needs a CPU with bfloat16 '
        'units or CUDA, float16 CUDA, auto picks the fastest the device '
        "runs (default: the config's, float32)")


def check_backend(parser: argparse.ArgumentParser,
                  args: argparse.Namespace) -> None:
    """Fill in ``args.backend`` from the checkpoint, or exit with a parser
    error when the asked backend does not fit it."""
    found = 'onnxruntime' if is_onnx_file(args.checkpoint) else 'pytorch'
    if args.backend not in (None, found):
        parser.error(f'--backend {args.backend} needs '
                     f'{BACKEND_FILES[args.backend]}, but --checkpoint '
                     f'{args.checkpoint} is not one')
    args.backend = found


def add_box(parser, option: str, help: str) -> None:
    """A repeatable box option, ``X1 Y1 X2 Y2`` in pixels; ``parser`` may be
    an argument group."""
    parser.add_argument(
        option,
        nargs=4,
        type=float,
        action='append',
        metavar=BOX_METAVAR,
        help=help)


def add_detector(parser: argparse.ArgumentParser, config_group=None) -> None:
    """An mmdet detector through MMPose's inferencer: ``--det-config`` (in
    ``config_group`` when it must exclude other box sources),
    ``--det-checkpoint``, ``--det-cat-ids`` and the thresholds."""
    (config_group or parser).add_argument(
        '--det-config', help='mmdet config (or mmdet model name)')
    parser.add_argument('--det-checkpoint', help='mmdet weights')
    parser.add_argument(
        '--det-cat-ids',
        type=int,
        nargs='+',
        default=list(ANIMAL_DET_CAT_IDS),
        help='detector classes to keep (default: COCO mammals '
        f'{min(ANIMAL_DET_CAT_IDS)}-{max(ANIMAL_DET_CAT_IDS)})')
    for option, (default, what) in DETECTOR_THRESHOLDS.items():
        parser.add_argument(option, type=float, default=default, help=what)


def add_kpt_thr(parser: argparse.ArgumentParser, help: str) -> None:
    """``--kpt-thr``: keypoints scoring below it are not drawn."""
    parser.add_argument('--kpt-thr', type=float, default=0.3, help=help)


def add_out_dir(parser: argparse.ArgumentParser, default: str) -> None:
    """``--out-dir``: the folder the tool writes into."""
    parser.add_argument(
        '--out-dir', default=default, help=f'output folder ({default})')


def inferencer_from_args(args: argparse.Namespace):
    """:func:`~promptpose_mm.apis.build_pose_inferencer` from the options of
    :func:`add_pose_model` and :func:`add_detector`."""
    detector = {
        f'det_{key}': getattr(args, f'det_{key}')
        for key in ('config', 'checkpoint', 'cat_ids')
    }
    return build_pose_inferencer(
        args.config,
        args.checkpoint,
        device=args.device,
        precision=args.precision,
        **detector)


def input_size(text: str) -> Tuple[int, int]:
    """``'WIDTHxHEIGHT'`` to ``(width, height)``."""
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r}: give WIDTHxHEIGHT, e.g. 256x256') from None
    return width, height


# import_labels argument: what its option takes (a type, or the choices)
# and its help; the option is the argument's name with dashes (but --box),
# the default the function's
TAKES = {
    'backbone': sorted(PAPER_CONFIGS),
    'base_config': str,
    'input_size': input_size,
    'box_mode': BOX_MODES,
    'padding': float,
    'val_fraction': float,
    'val_every': int,
    'seed': int,
    'sigma': float,
    'batch_size': int,
}
HELP = {
    'backbone': 'the paper config to inherit',
    'base_config': 'inherit this config instead of a paper config',
    'input_size': 'crop WIDTHxHEIGHT, multiples of 32 (default: as the base '
    'config, 256x256)',
    'box_mode': 'box around the labelled points, or the whole frame',
    'padding': 'animal box padding per side, a fraction of its side',
    'val_fraction': 'share held out for validation, by video when there are '
    'several',
    'val_every': 'every N-th frame in file order goes to validation '
    '(overrides the fraction)',
    'seed': 'split seed',
    'sigma': 'OKS sigma of every keypoint',
    'batch_size': 'per-GPU batch (default: as the base config)',
}
OPTION_NAMES = {'box_mode': '--box'}


def add_import_options(parser: argparse.ArgumentParser,
                       names: Optional[Sequence[str]] = None,
                       **defaults) -> None:
    """Add the options of ``names`` (default: all of :data:`TAKES`),
    each with ``import_labels``' default or the one in ``defaults``."""
    unknown = set(defaults) - set(TAKES)
    if unknown:
        raise TypeError(f'import_labels has no option {sorted(unknown)}')
    signature = inspect.signature(import_labels).parameters
    for name in names or TAKES:
        default = defaults.get(name, signature[name].default)
        text = HELP[name]
        if default is not None and '(default' not in text:
            text += f' (default: {default})'
        takes = TAKES[name]
        kind = dict(type=takes) if callable(takes) else dict(choices=takes)
        parser.add_argument(
            OPTION_NAMES.get(name, '--' + name.replace('_', '-')),
            dest=name,
            default=default,
            help=text,
            **kind)


def import_options(args: argparse.Namespace,
                   names: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """The ``import_labels`` keyword arguments of ``names`` (default: all of
    :data:`TAKES`) from ``args``, as :func:`add_import_options` added
    them."""
    return {name: getattr(args, name) for name in names or TAKES}
