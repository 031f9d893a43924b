"""Let ``torch.load(weights_only=True)`` read MMEngine checkpoints.

Since torch 2.6, ``torch.load`` unpickles only an allow-list of types unless
``weights_only=False`` is passed, and MMEngine 0.10.7 passes nothing. Its
checkpoints hold more than tensors: numpy arrays and scalars (dataset
meta-information such as OKS sigmas, logged values) and the message hub's
``HistoryBuffer`` objects. So ``mim test``, ``--resume`` and ``load_from``
fail with "Weights only load failed".

The fix here adds exactly those types to torch's allow-list, nothing more:
any other global in a pickle, in particular a callable that would run code
when loaded (``os.system``, ``builtins.eval``, ...), is still refused.

One more entry is needed: a ``HistoryBuffer`` pickles its statistics
methods (``HistoryBuffer.min``, ...) as ``getattr(HistoryBuffer, 'min')``.
Allowing ``getattr`` itself would let a pickle reach any attribute of any
object it holds, so the name ``builtins.getattr`` is bound to
:func:`history_buffer_getattr` instead, which answers exactly those lookups
and refuses every other one.
"""
import pickle
from typing import Any, List

import numpy as np
import torch

# numpy 1 pickles these under ``numpy.core``; numpy 2 moved them to
# ``numpy._core`` and still reads the old names. Checkpoints written under
# either must load, so both spellings are allowed for the same objects.
_NUMPY_MULTIARRAY_NAMES = ('numpy.core.multiarray', 'numpy._core.multiarray')


def _numpy_dtype_classes() -> List[type]:
    """The dtype classes numpy pickles next to arrays (numpy >= 1.25)."""
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is None:
        return []
    names = ('BoolDType', 'Int8DType', 'Int16DType', 'Int32DType',
             'Int64DType', 'UInt8DType', 'UInt16DType', 'UInt32DType',
             'UInt64DType', 'Float16DType', 'Float32DType', 'Float64DType',
             'LongDType', 'ULongDType', 'LongLongDType', 'ULongLongDType',
             'ByteDType', 'UByteDType', 'ShortDType', 'UShortDType',
             'IntDType', 'UIntDType', 'StrDType', 'BytesDType')
    return [getattr(dtypes, name) for name in names if hasattr(dtypes, name)]


def mmengine_safe_globals() -> List[Any]:
    """The objects an MMEngine checkpoint may reference, beyond torch's own.

    Returns:
        list: classes and functions for ``torch.serialization.
        add_safe_globals`` (without the numpy-1 aliases).
    """
    from mmengine.logging import HistoryBuffer
    multiarray = np._core.multiarray if hasattr(
        np, '_core') else np.core.multiarray
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        multiarray._reconstruct,
        multiarray.scalar,
        *_numpy_dtype_classes(),
    ]


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as a checkpoint may use it: statistics methods only.

    Args:
        obj: must be ``mmengine.logging.HistoryBuffer`` itself.
        name (str): one of its registered statistics methods (``'min'``,
            ``'max'``, ``'current'``, ``'mean'``, ...).

    Returns:
        The method, as the pickle asked.

    Raises:
        pickle.UnpicklingError: for any other object or name.
    """
    from mmengine.logging import HistoryBuffer
    allowed = set(
        HistoryBuffer._statistics_methods) | {'min', 'max', 'current', 'mean'}
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) in a checkpoint: only '
        'MMEngine HistoryBuffer statistics methods may be looked up. Load '
        'it with weights_only=False only if you trust its source')


def allow_mmengine_checkpoints() -> None:
    """Add the types of :func:`mmengine_safe_globals` to torch's allow-list.

    Idempotent; a no-op on torch versions without ``add_safe_globals``.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return
    safe: List[Any] = list(mmengine_safe_globals())
    multiarray = np._core.multiarray if hasattr(
        np, '_core') else np.core.multiarray
    for module in _NUMPY_MULTIARRAY_NAMES:
        safe.append((multiarray._reconstruct, f'{module}._reconstruct'))
        safe.append((multiarray.scalar, f'{module}.scalar'))
    safe.append((history_buffer_getattr, 'builtins.getattr'))
    add(safe)
