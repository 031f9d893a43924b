"""Reduced precision: which one a device runs fast, and running in it.

``float32`` is the reference. ``bfloat16`` autocast (with channels-last
memory for the convolutions) is fast on CPUs with bfloat16 units
(``avx512_bf16``, ``amx_bf16``) and on CUDA; ``float16`` autocast is for
CUDA. A reduced precision on hardware that would only emulate it is
refused with an error that says so, never run as a silent slow path.
``auto`` picks ``bfloat16`` on a CPU with bfloat16 units, ``float16`` on
CUDA and ``float32`` otherwise.

The weights stay float32 (in channels-last memory once a reduced precision
runs): autocast runs each matrix product and convolution in the reduced
type and keeps reductions, normalisations and losses in float32.
"""
import contextlib
import functools
from typing import AbstractSet, FrozenSet, Iterator, Optional, Set

import torch
from torch import nn

PRECISIONS = ('auto', 'float32', 'bfloat16', 'float16')
DTYPES = dict(bfloat16=torch.bfloat16, float16=torch.float16)
# /proc/cpuinfo flags of the units that run bfloat16 products natively
BFLOAT16_FLAGS = ('amx_bf16', 'avx512_bf16')


class PrecisionError(ValueError):
    """A precision that this device cannot run fast, or an unknown one."""


@functools.lru_cache(maxsize=None)
def cpu_flags(path: str = '/proc/cpuinfo') -> FrozenSet[str]:
    """The CPU's feature flags (empty where ``path`` cannot be read)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(('flags', 'Features')):
                    return frozenset(line.split(':', 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_bfloat16_units(flags: Optional[AbstractSet[str]] = None) -> Set[str]:
    """The bfloat16 units among the CPU's flags (``amx_bf16``,
    ``avx512_bf16``); empty on a CPU without them."""
    flags = cpu_flags() if flags is None else flags
    return {flag for flag in BFLOAT16_FLAGS if flag in flags}


def device_type(device) -> str:
    """``'cuda'`` or ``'cpu'`` (the autocast device type) of a device
    name, ``torch.device`` or module."""
    if isinstance(device, nn.Module):
        param = next(device.parameters(), None)
        device = param.device if param is not None else 'cpu'
    return torch.device(device).type


def resolve_precision(precision: str, device='cpu') -> str:
    """The precision to run: ``precision`` checked against ``device``,
    ``'auto'`` made concrete.

    Args:
        precision (str): one of :data:`PRECISIONS`.
        device (str | torch.device | nn.Module): where the model runs.

    Returns:
        str: ``'float32'``, ``'bfloat16'`` or ``'float16'``.

    Raises:
        PrecisionError: an unknown precision; ``bfloat16`` on a CPU
        without bfloat16 units; ``float16`` on a CPU.
    """
    if precision not in PRECISIONS:
        raise PrecisionError(f'unknown precision {precision!r}: choose one '
                             f'of {", ".join(PRECISIONS)}')
    kind = device_type(device)
    if kind == 'cuda':
        return 'float16' if precision == 'auto' else precision
    if kind != 'cpu':
        if precision in ('auto', 'float32'):
            return 'float32'
        raise PrecisionError(
            f'precision {precision} is supported on CPU and CUDA, not on '
            f'{kind}: use float32')
    units = cpu_bfloat16_units()
    if precision == 'auto':
        return 'bfloat16' if units else 'float32'
    if precision == 'float16':
        raise PrecisionError(
            'float16 runs on CUDA only: on a CPU use bfloat16 (on a CPU '
            'with bfloat16 units) or float32')
    if precision == 'bfloat16' and not units:
        raise PrecisionError(
            'this CPU has no bfloat16 units (none of the flags '
            f'{", ".join(BFLOAT16_FLAGS)} in /proc/cpuinfo): bfloat16 would '
            'be emulated, slower than float32; use float32 (or auto)')
    return precision


def autocast(precision: str,
             device='cpu') -> contextlib.AbstractContextManager:
    """The autocast context of a resolved ``precision`` (nothing for
    ``float32``)."""
    if precision == 'float32':
        return contextlib.nullcontext()
    return torch.autocast(device_type(device), dtype=DTYPES[precision])


@contextlib.contextmanager
def full_precision(device='cpu') -> Iterator[None]:
    """Autocast off inside: what must stay float32 under a reduced
    precision (the text prompts, the losses). Nothing to do on a device
    without autocast (``meta``, say)."""
    kind = device_type(device)
    if not torch.amp.is_autocast_available(kind):
        yield
        return
    with torch.autocast(kind, enabled=False):
        yield


def set_precision(model: nn.Module, precision: str = 'auto') -> str:
    """Run ``model``'s inference in ``precision`` from now on (as the
    config key ``model.precision`` does at build time).

    Args:
        model (nn.Module): a ``PromptPoseEstimator``.
        precision (str): one of :data:`PRECISIONS`.

    Returns:
        str: the resolved precision, now ``model.precision``.

    Raises:
        PrecisionError: the model has no precision setting, or the device
        cannot run ``precision`` fast (:func:`resolve_precision`).
    """
    if not hasattr(model, 'precision'):
        raise PrecisionError(
            f'{type(model).__name__} has no precision setting: a reduced '
            'precision needs a PromptPoseEstimator model (every config of '
            'promptpose_mm builds one) in PyTorch, not an exported one')
    model.precision = resolve_precision(precision, model)
    return model.precision
