"""Fixtures shared by the test modules."""
import os.path as osp
import subprocess
import sys
from typing import Callable

import pytest

MIM = osp.join(osp.dirname(sys.executable), 'mim')


@pytest.fixture(scope='session')
def mim() -> Callable[..., str]:
    """Run the venv's ``mim`` with arguments from a working directory;
    assert it succeeds and return its output (stdout and stderr)."""

    def run(*args: str, cwd: str) -> str:
        proc = subprocess.run([MIM, *args],
                              cwd=cwd,
                              capture_output=True,
                              text=True,
                              timeout=600)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-3000:]
        return output

    return run
