"""The command-line options of :func:`~.importer.import_labels`, declared once.

``tools/dataset_converters/import_labels.py`` takes them all and
``tools/analysis/compare_on_labels.py`` the split and box ones. Each option
stores under the name of the function's argument, with the function's
default unless the tool gives another, so that
``import_labels(source, out_dir, **import_options(args))`` is the whole
call.
"""
import argparse
import inspect
from typing import Dict, Optional, Sequence, Tuple

from promptpose_mm.io.coco import BOX_MODES
from promptpose_mm.utils.installed_configs import PAPER_CONFIGS
from .importer import import_labels


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
