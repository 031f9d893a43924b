"""Distributed runs on machines without GPUs, with no config change.

MMEngine 0.10.7 starts ``torch.distributed`` for ``--launcher pytorch`` by
calling ``torch.cuda.set_device(LOCAL_RANK)`` first, which fails where there
is no GPU, whatever backend the config names. It skips its own start when a
process group already exists, so :func:`init_cpu_process_group` (run when the
plugin is imported through ``custom_imports``, before the runner is built)
starts one with the gloo backend in exactly that case: the process was
launched by ``torchrun`` / ``torch.distributed.launch`` and no CUDA device is
usable. On GPUs nothing changes and MMEngine starts NCCL as configured.
"""
import os

import torch
import torch.distributed as dist

_LAUNCH_VARIABLES = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                     'MASTER_PORT')


def init_cpu_process_group() -> bool:
    """Start a gloo process group for a torchrun launch without GPUs.

    Returns:
        bool: whether a process group was started here.
    """
    if not dist.is_available() or dist.is_initialized():
        return False
    if not all(name in os.environ for name in _LAUNCH_VARIABLES):
        return False
    if torch.cuda.is_available():
        return False  # MMEngine's own NCCL start works
    dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']))
    return True
