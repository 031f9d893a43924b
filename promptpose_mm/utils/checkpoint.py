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

Two builtins need an answer of their own, each bound to a narrow stand-in
rather than allowed as such:

- a ``HistoryBuffer`` pickles its statistics methods (``HistoryBuffer.min``,
  ...) as ``getattr(HistoryBuffer, 'min')``. Allowing ``getattr`` itself
  would let a pickle reach any attribute of any object it holds, so the name
  ``builtins.getattr`` is bound to :func:`history_buffer_getattr`, which
  answers exactly those lookups and refuses every other one;
- torch saves with pickle protocol 2, which writes an *empty* ``bytes`` as
  ``bytes()``; numpy pickles an empty array (MMPose's ``skeleton_link_colors``
  of a dataset without a skeleton, as many DeepLabCut projects are) with
  such an empty ``bytes``. ``builtins.bytes`` is bound to :func:`empty_bytes`,
  which builds ``b''`` and nothing else.

:func:`load_checkpoint_file` is ``torch.load`` with this allow-list and
errors that name the file: :class:`UnreadableCheckpointError` for a file
that is empty, truncated or not a PyTorch checkpoint, and
:class:`UnsafeCheckpointError` for one refused because it would run code.
Neither advises turning the safety off. The plugin's own entry points
(:func:`promptpose_mm.apis.init_model`, the inference and video tools, CLIP
weights) load through it; MMEngine's loader is left as it is (it refuses
the same files, with torch's words).
"""
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, List, Optional, Union

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


def empty_bytes(*args: Any) -> bytes:
    """``bytes`` as a protocol-2 pickle uses it: ``bytes()`` -> ``b''``.

    Raises:
        pickle.UnpicklingError: for any argument (``bytes(n)`` would
            allocate ``n`` bytes at the pickle's wish).
    """
    if args:
        raise pickle.UnpicklingError(
            f'refusing bytes{args!r} in a checkpoint: only the empty bytes '
            'that pickle protocol 2 writes as bytes() may be built')
    return b''


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
    safe.append((empty_bytes, 'builtins.bytes'))
    add(safe)


class UnreadableCheckpointError(ValueError):
    """A checkpoint file that is empty, truncated or not a PyTorch file."""


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint refused because loading it could run code."""


_UNSAFE_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')
# torch's words for a refused global, and those of this module's stand-ins
_REFUSED_MARKERS = ('unsupported global', 'was not an allowed global',
                    'is blocked', 'refusing ')
_TORCH_DETAIL = 'WeightsUnpickler error:'


def _first_line(error: BaseException) -> str:
    """The line of an error that says what is wrong, without torch's
    advice to load with ``weights_only=False``."""
    text = str(error).strip()
    if _TORCH_DETAIL in text:  # e.g. 'Unsupported operand 60' for noise
        text = text.split(_TORCH_DETAIL, 1)[1]
    for line in text.splitlines():
        # torch's own text advises weights_only=False: never passed on
        if line.strip() and 'weights_only' not in line:
            return line.strip()
    return type(error).__name__


def load_checkpoint_file(path: str,
                         map_location: Union[str, Any, None] = 'cpu',
                         what: str = 'checkpoint') -> Any:
    """``torch.load(path, weights_only=True)`` with errors naming the file.

    Args:
        path (str): a local file.
        map_location: as for ``torch.load``. Defaults to ``'cpu'``.
        what (str): what the file is meant to be, for the messages
            (``'checkpoint'``, ``'CLIP weights'``).

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: no such file.
        UnreadableCheckpointError: the file is empty, truncated or not a
            PyTorch file.
        UnsafeCheckpointError: the file references a type or function
            outside the allow-list (it could run code when loaded).
    """
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file not found: {path}')
    size = osp.getsize(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        refused = _refused_global(error)
        if refused is not None:
            raise UnsafeCheckpointError(
                f'{what} {path} was refused for safety: it refers to '
                f'{refused}, which is not among the types MMEngine '
                'checkpoints hold and could run code when loaded. Use '
                'only checkpoints from sources you trust; if this file was '
                'written by a training run of this plugin, report the type '
                'named here as a bug.') from None
        reason = _first_line(error)
    except (RuntimeError, EOFError, OSError, ValueError, KeyError,
            zipfile.BadZipFile, UnicodeDecodeError) as error:
        reason = _first_line(error)
    kind = ('an empty file' if size == 0 else 'a truncated zip archive'
            if _is_cut_zip(path) else 'not a PyTorch checkpoint')
    raise UnreadableCheckpointError(
        f'{what} {path} is not a readable PyTorch checkpoint ({kind}, '
        f'{size} bytes: {reason}). The file is damaged or of another kind: '
        'copy, download or save it again, or pass the right file.') from None


def _refused_global(error: BaseException) -> Optional[str]:
    """The global a weights-only load refused, or None for other errors."""
    text = str(error)
    if not any(marker in text.lower() for marker in _REFUSED_MARKERS):
        return None
    match = _UNSAFE_GLOBAL.search(text)
    if match:
        return match.group(1).replace(' ', '.')
    match = re.search(r'refusing [^:]+', text)
    return match.group(0)[len('refusing '):] if match else 'a global'


def _is_cut_zip(path: str) -> bool:
    """A file that starts like a zip archive but does not open as one."""
    with open(path, 'rb') as f:
        head = f.read(4)
    return head == b'PK\x03\x04' and not zipfile.is_zipfile(path)
