"""Freed CPU memory is reused: a step does not fault its blocks in again.

Each case runs in a fresh interpreter, since the allocator's settings hold
for the whole process.
"""
import os.path as osp
import platform
import subprocess
import sys

import pytest
from mmengine.config import Config

from tests.paths import CONFIG_FILES, ROOT

# minor page faults of filling a 64 MiB tensor, the most of the ninth to
# eleventh times (the first fills grow the heap: the thread pool starts and
# small blocks land above the freed one, how many times depends on what the
# process did before); 64 MiB is 16384 pages of 4 KiB
SCRIPT = """
import resource, sys, torch
from mmengine.logging import MMLogger
from promptpose_mm.engine import CPUMemoryReuseHook
from promptpose_mm.utils import reuse_freed_cpu_memory
if sys.argv[1] == 'function':
    assert reuse_freed_cpu_memory()
elif sys.argv[1] == 'hook':
    class Runner:
        logger = MMLogger.get_instance('test')
    CPUMemoryReuseHook().before_run(Runner())
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(16 * 2**20)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
for _ in range(8):
    faults()
print(max(faults() for _ in range(3)))
"""
PAGES = 16 * 2**20 * 4 // 4096

glibc_only = pytest.mark.skipif(
    platform.libc_ver()[0] != 'glibc', reason='glibc malloc only')


def _settled_fill_faults(mode: str) -> int:
    proc = subprocess.run([sys.executable, '-c', SCRIPT, mode],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          check=True)
    return int(proc.stdout.split()[-1])


@pytest.mark.slow  # a subprocess
@glibc_only
def test_default_malloc_faults_a_large_block_in_every_time():
    # the cost the hook removes: glibc maps and zeroes the block again
    assert _settled_fill_faults('default') >= PAGES // 2


@pytest.mark.slow  # a subprocess
@glibc_only
@pytest.mark.parametrize('mode', ['function', 'hook'])
def test_freed_memory_is_reused(mode):
    assert _settled_fill_faults(mode) < PAGES // 100


@pytest.mark.parametrize('path', CONFIG_FILES, ids=osp.basename)
def test_the_cpu_configs_list_the_hook(path):
    """The tiny (CPU) configs, PromptPose and SimpleBaseline alike so that
    they compare fairly, keep freed memory; the paper's GPU recipes do not
    carry the CPU allocator hook. Every config checks its keypoints."""
    cfg = Config.fromfile(path)
    assert dict(type='DatasetKeypointsHook') in cfg.custom_hooks
    tiny = 'tiny' in osp.basename(path)
    assert (dict(type='CPUMemoryReuseHook') in cfg.custom_hooks) == tiny
