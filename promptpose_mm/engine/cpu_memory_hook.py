"""The hook that keeps freed CPU memory for the next training step (see
:mod:`promptpose_mm.utils.cpu_memory`)."""
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from ..utils.cpu_memory import cpu_memory_mode, reuse_freed_cpu_memory


@HOOKS.register_module()
class CPUMemoryReuseHook(Hook):
    """Call :func:`reuse_freed_cpu_memory` before the run starts, and log
    whether it took effect."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        if reuse_freed_cpu_memory():
            runner.logger.info('CPUMemoryReuseHook: ' + cpu_memory_mode() +
                               ': a step reuses the memory the last one freed')
        else:
            runner.logger.info(
                'CPUMemoryReuseHook: not glibc, the allocator is unchanged')
