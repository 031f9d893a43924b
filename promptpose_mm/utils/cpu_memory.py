"""Keep freed CPU memory in the process: no page faults on every step.

glibc's ``malloc`` gives each block above its mmap threshold (32 MiB at
most on 64-bit Linux) a mapping of its own and unmaps it when the block is
freed. A training step on the CPU allocates and frees the same large
activations at every step (a ``(16, 256, 64, 64)`` float map is 64 MiB), so
the kernel maps and zeroes the same gigabytes again at every step: minor
page faults and system time that the model's arithmetic does not show.
PromptPose keeps more of these maps than its SimpleBaseline twin (the
attention pool at every location, the pixel branch), so it paid more: on a
2-core AMD EPYC its CLIP ResNet-50 training step faulted 1.44 M pages
against 0.56 M and took 1.54x SimpleBaseline's time for 1.29x the
arithmetic (``docs/cost.md``).

:func:`reuse_freed_cpu_memory` tells glibc (``mallopt``) to serve large
blocks from its heap as well (``M_MMAP_MAX = 0``) and never to hand the
heap's free top back (``M_TRIM_THRESHOLD = -1``): from the second step on,
a step reuses the memory the previous one freed. The process keeps its
peak resident memory, which a training step reaches again every step.
:class:`~promptpose_mm.engine.CPUMemoryReuseHook` does it when a runner
starts (the configs list it in ``custom_hooks``). Elsewhere than glibc
nothing changes.
"""
import ctypes
import platform
from typing import Callable, Optional

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_applied = False


def _glibc_function(name: str) -> Optional[Callable]:
    """glibc's function ``name``, or None on other C libraries."""
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return None
    try:
        return getattr(ctypes.CDLL('libc.so.6'), name)
    except (OSError, AttributeError):
        return None


def release_free_cpu_memory() -> None:
    """Hand glibc's free heap pages back to the system now
    (``malloc_trim(0)``), whatever :func:`reuse_freed_cpu_memory` set; on
    other C libraries nothing happens. A memory measurement starts from
    it."""
    malloc_trim = _glibc_function('malloc_trim')
    if malloc_trim is not None:
        malloc_trim(0)


def reuse_freed_cpu_memory() -> bool:
    """Make glibc keep freed memory for the next allocations.

    Sets ``M_MMAP_MAX = 0`` and ``M_TRIM_THRESHOLD = -1`` for the whole
    process (children forked afterwards, such as data-loader workers,
    inherit it); idempotent.

    Returns:
        bool: whether glibc took the settings (``False`` on other C
        libraries, where nothing is changed).
    """
    global _applied
    if _applied:
        return True
    mallopt = _glibc_function('mallopt')
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # 1 on success; M_MMAP_MAX first, so that no block is mapped alone
    _applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(
        mallopt(M_TRIM_THRESHOLD, -1))
    return _applied


def cpu_memory_mode() -> str:
    """What :func:`reuse_freed_cpu_memory` did in this process, in words."""
    if _applied:
        return ('glibc malloc keeps freed memory (M_MMAP_MAX=0, '
                'M_TRIM_THRESHOLD=-1)')
    return "the C library's default malloc"
