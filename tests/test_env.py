"""The environment check, and the set-up's detection of broken caches."""
import hashlib
import os.path as osp
import subprocess
import sys
import zipfile

import pytest

from tests.paths import ROOT

# subprocesses: the environment check and the set-up script
pytestmark = pytest.mark.slow

SETUP = osp.join(ROOT, 'tools', 'setup_env.sh')


def test_check_env_passes_every_check():
    proc = subprocess.run(
        [sys.executable,
         osp.join(ROOT, 'tools', 'check_env.py')],
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ('versions', 'setuptools', 'mmcv ops', 'xtcocotools',
                 'CLIP tokenizer', 'registrations', 'checkpoint loading'):
        assert f'[ OK ] {name}:' in proc.stdout
    assert 'mmcv=2.1.0' in proc.stdout and 'mmpose=1.3.2' in proc.stdout
    assert 'environment OK' in proc.stdout


def cache_ok(entry: str, inner: str = 'mmcv/_ext*.so') -> bool:
    """Run the set-up script's own ``cache_ok`` on a cache entry."""
    script = (f'source "{SETUP}"; PY="{sys.executable}"; '
              f'cache_ok "{entry}" "{inner}"')
    return subprocess.run(['bash', '-c', script]).returncode == 0


def make_entry(folder, files: dict, seal: bool = True) -> str:
    folder.mkdir()
    wheel = folder / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'
    with zipfile.ZipFile(wheel, 'w') as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    if seal:
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        (folder / 'SHA256').write_text(digest + '\n')
    return str(folder)


def test_sealed_wheel_with_extension_is_reused(tmp_path):
    files = {'mmcv/_ext.cpython-311-x86_64-linux-gnu.so': b'\x7fELF'}
    assert cache_ok(make_entry(tmp_path / 'good', files))


@pytest.mark.parametrize(
    'case', ['missing', 'unsealed', 'checksum', 'no-extension', 'truncated'])
def test_broken_or_partial_cache_is_rejected(tmp_path, case):
    files = {'mmcv/_ext.cpython-311-x86_64-linux-gnu.so': b'\x7fELF' * 64}
    if case == 'missing':
        entry = str(tmp_path / 'never-built')
    elif case == 'unsealed':  # a build that stopped before the seal
        entry = make_entry(tmp_path / 'entry', files, seal=False)
    elif case == 'checksum':
        entry = make_entry(tmp_path / 'entry', files)
        (tmp_path / 'entry' / 'SHA256').write_text('0' * 64 + '\n')
    elif case == 'no-extension':  # mmcv-lite, built without its ops
        entry = make_entry(tmp_path / 'entry', {'mmcv/__init__.py': b''})
    else:  # a file cut short after the seal
        entry = make_entry(tmp_path / 'entry', files)
        wheel = next((tmp_path / 'entry').glob('*.whl'))
        wheel.write_bytes(wheel.read_bytes()[:40])
    assert not cache_ok(entry)
