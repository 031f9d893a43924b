"""Damaged and refused files: clear errors wherever a user hands one over.

torch's own text for a broken file loaded with ``weights_only=True`` advises
re-running with ``weights_only=False``: unsafe advice for a file that is
merely damaged. The plugin's entry points (CLIP weights,
``promptpose_mm.apis.init_model``, ``tools/inference.py --checkpoint``)
instead name the file and say it is not a readable checkpoint, or that it
was refused for safety, and never suggest turning the safety off. MMPose's
and MMEngine's own loaders (``MMPoseInferencer``, ``load_from``), which the
plugin leaves as they are, refuse the same files without running them.
"""
import io
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import promptpose_mm  # noqa: F401
from promptpose_mm.models.clip import CLIPWeightsError, load_clip_state_dict
from promptpose_mm.utils.checkpoint import (UnreadableCheckpointError,
                                            UnsafeCheckpointError,
                                            load_checkpoint_file)
from tests.paths import AP10K, ROOT, TINY

IMAGE = osp.join(AP10K, '000000000004.jpg')

KINDS = {
    'empty': 'an empty file',
    'truncated': 'a truncated zip archive',
    'text': 'not a PyTorch checkpoint',
    'noise': 'not a PyTorch checkpoint',
}


class _Reduce:

    def __reduce__(self):
        return os.system, ('echo pwned', )


@pytest.fixture(scope='module')
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('bad')
    good = io.BytesIO()
    torch.save({'state_dict': {'w': torch.zeros(64, 64)}}, good)
    data = good.getvalue()
    files = {
        'empty': b'',
        'truncated': data[:len(data) // 2],
        'text': b'<html>404 Not Found</html>\n',
        'noise': bytes(range(256)) * 8,
    }
    paths = {}
    for name, content in files.items():
        paths[name] = str(folder / f'{name}.pth')
        with open(paths[name], 'wb') as f:
            f.write(content)
    paths['unsafe'] = str(folder / 'unsafe.pth')
    torch.save({'state_dict': {}, 'payload': _Reduce()}, paths['unsafe'])
    return paths


def assert_clear(message: str, path: str, kind: str) -> None:
    assert path in message
    if kind == 'unsafe':
        assert 'refused for safety' in message
        assert 'posix.system' in message or 'os.system' in message
    else:
        assert 'is not a readable PyTorch checkpoint' in message
        assert KINDS[kind] in message
    assert 'weights_only' not in message


@pytest.mark.parametrize('kind', [*KINDS, 'unsafe'])
def test_load_checkpoint_file(bad_files, kind):
    error = UnsafeCheckpointError if kind == 'unsafe' else \
        UnreadableCheckpointError
    with pytest.raises(error) as info:
        load_checkpoint_file(bad_files[kind])
    assert_clear(str(info.value), bad_files[kind], kind)
    assert info.value.__suppress_context__  # torch's text is not chained


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='checkpoint file not found'):
        load_checkpoint_file('/nowhere/epoch_1.pth')


@pytest.mark.parametrize('kind', ['empty', 'truncated', 'text', 'unsafe'])
def test_clip_weights(bad_files, kind):
    with pytest.raises(CLIPWeightsError) as info:
        load_clip_state_dict(bad_files[kind])
    assert_clear(str(info.value), bad_files[kind], kind)
    assert 'CLIP weights' in str(info.value)


@pytest.mark.parametrize('kind', ['truncated', 'unsafe'])
def test_init_model(bad_files, kind):
    from promptpose_mm.apis import init_model
    with pytest.raises(Exception) as info:
        init_model(TINY, bad_files[kind], device='cpu')
    assert_clear(str(info.value), bad_files[kind], kind)


def assert_refused_unrun(info, capfd) -> None:
    """torch's weights-only load refused the pickle before it ran."""
    assert 'os.system' in str(info.value) or 'posix.system' in str(info.value)
    assert 'pwned' not in capfd.readouterr().out


def test_plain_inferencer_refuses_code(bad_files, capfd):
    from mmpose.apis import MMPoseInferencer
    with pytest.raises(Exception) as info:
        MMPoseInferencer(
            pose2d=TINY, pose2d_weights=bad_files['unsafe'], device='cpu')
    assert_refused_unrun(info, capfd)


def test_load_from_refuses_code(bad_files, tmp_path, capfd):
    cfg = Config.fromfile(TINY)
    cfg.work_dir = str(tmp_path)
    cfg.load_from = bad_files['unsafe']
    runner = Runner.from_cfg(cfg)
    with pytest.raises(Exception) as info:
        runner.test()
    assert_refused_unrun(info, capfd)


@pytest.mark.slow  # a subprocess
@pytest.mark.parametrize('kind', ['truncated', 'unsafe'])
def test_inference_tool(bad_files, kind, tmp_path):
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'inference.py'), IMAGE, '--config', TINY,
        '--checkpoint', bad_files[kind], '--out-dir',
        str(tmp_path), '--device', 'cpu'
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert_clear(proc.stderr, bad_files[kind], kind)
