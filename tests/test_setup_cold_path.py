"""The set-up's cold path: download, verify, patch, build, seal, install.

A new machine has no cached mmcv wheel, so ``tools/setup_env.sh`` builds it
from its sdist (about 11 minutes). These tests run the very same functions
(``install_cached`` -> ``build_from_sdist`` -> ``seal_cache``) on a small
source package with a compiled extension that the test writes itself, served
from a local folder instead of the package index. Only the package differs
from the real build. They run from another working directory with a relative
``VENV`` and cache, as ``make`` passes them.
"""
import hashlib
import io
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import textwrap

import pytest

from tests.paths import ROOT

# subprocesses: builds a package with the set-up script
pytestmark = pytest.mark.slow

SETUP = osp.join(ROOT, 'tools', 'setup_env.sh')
UV = osp.join(osp.dirname(sys.executable), 'uv')
NAME, VERSION = 'pptestpkg', '0.1'

SETUP_PY = """\
from setuptools import Extension, setup

setup(name='pptestpkg', version='0.1', packages=['pptestpkg'],
      ext_modules=[Extension('pptestpkg._ext', ['pptestpkg/_ext.c'])])
"""
EXT_C = """\
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) {
    return PyLong_FromLong(ANSWER);  /* ANSWER: set by the patch step */
}
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""},
                                {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", "", -1,
                                    methods};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
"""


def make_sdist(index: str) -> str:
    """Write ``pptestpkg-0.1.tar.gz`` into ``index``; return its sha256."""
    os.makedirs(index, exist_ok=True)
    path = osp.join(index, f'{NAME}-{VERSION}.tar.gz')
    files = {
        'setup.py': SETUP_PY,
        'PKG-INFO': f'Metadata-Version: 2.1\nName: {NAME}\n'
        f'Version: {VERSION}\n',
        f'{NAME}/__init__.py': 'from ._ext import answer\n',
        f'{NAME}/_ext.c': EXT_C,
    }
    with tarfile.open(path, 'w:gz') as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f'{NAME}-{VERSION}/{name}')
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope='module')
def sandbox(tmp_path_factory):
    """A folder with the sdist index, a light venv (pip, setuptools, wheel,
    uv) and a working directory elsewhere."""
    base = tmp_path_factory.mktemp('cold')
    sha = make_sdist(str(base / 'index'))
    venv = base / 'envs' / 'venv'
    subprocess.run(
        [UV, 'venv', '-q', '--seed', '--python', sys.executable,
         str(venv)],
        check=True,
        timeout=300)
    os.symlink(UV, venv / 'bin' / 'uv')
    (base / 'work').mkdir()
    return base, sha


def run_setup(sandbox, cache: str, sha: str = None, patch: str = None):
    """Run the script's ``install_cached`` for the test package from
    ``work/`` with ``VENV=../envs/venv`` and ``PROMPTPOSE_CACHE=cache``
    (both relative)."""
    base, good_sha = sandbox
    patch = patch or 'sed -i "s/ANSWER/42/" "$1/pptestpkg/_ext.c"'
    script = textwrap.dedent(f"""\
        source "{SETUP}"
        use_venv
        patch_pptestpkg() {{ {patch}; }}
        build_pptestpkg() {{
            build_from_sdist {NAME} {VERSION} {sha or good_sha} \\
                patch_pptestpkg "$1"
        }}
        install_cached {NAME} "$CACHE/{NAME}-{VERSION}" \\
            '{NAME}/_ext*.so' \\
            'import {NAME}; assert {NAME}.answer() == 42' build_pptestpkg
        echo "CACHE=$CACHE VENV=$VENV"
        """)
    env = dict(
        os.environ,
        VENV='../envs/venv',
        PROMPTPOSE_CACHE=cache,
        PROMPTPOSE_FIND_LINKS='',
        # the sdist comes from the local folder, as pip would fetch mmcv's
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX='1',
        PIP_FIND_LINKS=str(base / 'index'))
    return subprocess.run(['bash', '-c', script],
                          cwd=base / 'work',
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)


def venv_answer(sandbox) -> str:
    base, _ = sandbox
    python = base / 'envs' / 'venv' / 'bin' / 'python'
    return subprocess.run(
        [str(python), '-c', f'import {NAME}; print({NAME}.answer())'],
        capture_output=True,
        text=True,
        cwd=base).stdout.strip()


def test_cold_build_then_warm_reuse(sandbox):
    base, _ = sandbox
    entry = base / 'work' / 'cache-cold' / f'{NAME}-{VERSION}'
    proc = run_setup(sandbox, 'cache-cold')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f'CACHE={base}/work/cache-cold ' in proc.stdout  # made absolute
    assert f'VENV={base}/work/../envs/venv' in proc.stdout
    wheels = list(entry.glob('*.whl'))
    assert len(wheels) == 1 and 'linux' in wheels[0].name  # compiled
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    assert (entry / 'SHA256').read_text().strip() == digest  # sealed
    assert venv_answer(sandbox) == '42'  # patched, built, installed
    stamp = wheels[0].stat().st_mtime_ns

    again = run_setup(sandbox, 'cache-cold')
    assert again.returncode == 0, again.stdout + again.stderr
    assert f'using cached {NAME}' in again.stdout
    assert 'rebuilding' not in again.stdout
    assert wheels[0].stat().st_mtime_ns == stamp  # not rebuilt


def test_broken_cache_entry_is_rebuilt(sandbox):
    base, _ = sandbox
    entry = base / 'work' / 'cache-broken' / f'{NAME}-{VERSION}'
    entry.mkdir(parents=True)
    (entry / f'{NAME}-{VERSION}-cp311-cp311-linux_x86_64.whl'
     ).write_bytes(b'PK\x03\x04 cut short')
    (entry / 'SHA256').write_text('0' * 64 + '\n')
    proc = run_setup(sandbox, 'cache-broken')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'is broken or partial: rebuilding' in proc.stdout
    wheel, = entry.glob('*.whl')
    assert hashlib.sha256(
        wheel.read_bytes()).hexdigest() == (entry /
                                            'SHA256').read_text().strip()
    assert venv_answer(sandbox) == '42'


def test_checksum_mismatch_stops_before_building(sandbox):
    base, _ = sandbox
    proc = run_setup(sandbox, 'cache-bad-sha', sha='0' * 64)
    assert proc.returncode != 0
    assert f'checksum mismatch for the {NAME} {VERSION} sdist' in proc.stderr
    assert not (base / 'work' / 'cache-bad-sha' / f'{NAME}-{VERSION}').exists()


def test_failed_build_leaves_no_cache_entry(sandbox):
    base, _ = sandbox
    proc = run_setup(
        sandbox,
        'cache-fail',
        patch='sed -i "s/ANSWER/not C at all(/" "$1/pptestpkg/_ext.c"')
    assert proc.returncode != 0
    assert f'{NAME} build failed' in proc.stderr
    cache = base / 'work' / 'cache-fail'
    assert not cache.exists() or not any(cache.iterdir())


def test_make_passes_absolute_paths():
    """The Makefile hands the script an absolute VENV, from any folder."""
    out = subprocess.run(
        ['make', '-s', '-n', '-f',
         osp.join(ROOT, 'Makefile'), 'env'],
        cwd='/',
        capture_output=True,
        text=True,
        check=True).stdout
    assert f'VENV={ROOT}/.venv bash {ROOT}/tools/setup_env.sh' in out


@pytest.mark.skipif(shutil.which('make') is None, reason='make not found')
def test_fresh_check_target_exists():
    out = subprocess.run(['make', '-s', '-n', '-C', ROOT, 'fresh-check'],
                         capture_output=True,
                         text=True,
                         check=True).stdout
    assert 'tools/fresh_check.sh' in out
