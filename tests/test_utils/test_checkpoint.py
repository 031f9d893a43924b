"""MMEngine checkpoints from a real training run (the suite's shared lab
run) load, resume and test under torch 2.14's ``weights_only`` default, and
code-running pickles are refused.
"""
import io
import os
import os.path as osp
import pickle
import pickletools
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner

import promptpose_mm  # noqa: F401  (allows the MMEngine types)
from promptpose_mm.utils.checkpoint import empty_bytes, history_buffer_getattr


@pytest.fixture(scope='module')
def trained(lab_run, tmp_path_factory):
    """The shared lab run (two epochs, a checkpoint after each, as MMEngine
    writes them), copied: the resume test adds to it."""
    import shutil
    work_dir = str(tmp_path_factory.mktemp('run') / 'work')
    shutil.copytree(lab_run['work_dir'], work_dir)
    return work_dir


def pickled_globals(path: str) -> set:
    """The ``module.name`` globals a torch checkpoint's pickle refers to."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
        ops = list(pickletools.genops(archive.read(name)))
    return {arg.replace(' ', '.') for op, arg, _ in ops if op.name == 'GLOBAL'}


def test_checkpoint_holds_non_tensor_types(trained):
    found = pickled_globals(osp.join(trained, 'epoch_2.pth'))
    # what made torch 2.6+ refuse MMEngine checkpoints out of the box
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in found
    assert 'numpy.ndarray' in found
    assert '__builtin__.getattr' in found


def test_checkpoint_loads_with_weights_only(trained):
    checkpoint = torch.load(
        osp.join(trained, 'epoch_2.pth'), map_location='cpu')
    assert checkpoint['meta']['epoch'] == 2
    assert isinstance(checkpoint['meta']['dataset_meta']['sigmas'], np.ndarray)
    log_scalars = checkpoint['message_hub']['log_scalars']
    assert isinstance(log_scalars['train/loss'], HistoryBuffer)
    assert 'neck.text_encoder.context' in checkpoint['state_dict']


@pytest.mark.slow  # a subprocess
def test_without_the_plugin_torch_refuses_it(trained):
    """The check above can fail: plain torch.load refuses the same file."""
    code = ('import sys, torch\n'
            'try:\n'
            '    torch.load(sys.argv[1], map_location="cpu")\n'
            'except Exception as error:\n'
            '    print("refused", type(error).__name__)\n')
    out = subprocess.run(
        [sys.executable, '-c', code,
         osp.join(trained, 'epoch_2.pth')],
        capture_output=True,
        text=True,
        check=True).stdout
    assert out.startswith('refused UnpicklingError')


def test_resume_continues_the_run(trained, lab_run):
    cfg = lab_run['training'](trained, 3)
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    per_epoch = runner.iter // 3
    assert runner.epoch == 3 and per_epoch >= 1
    assert runner.iter == 3 * per_epoch
    log = open(
        sorted(
            osp.join(trained, d, d + '.log') for d in os.listdir(trained)
            if osp.isdir(osp.join(trained, d)))[-1]).read()
    assert f'resumed epoch: 2, iter: {2 * per_epoch}' in log
    assert 'Epoch(train)   [1]' not in log


def logged_val_ap(work_dir: str, epoch: int) -> float:
    """The ``coco/AP`` a training run logged for its validation at
    ``epoch`` (its log file)."""
    import glob
    import re
    for path in sorted(glob.glob(osp.join(work_dir, '*', '*.log'))):
        found = re.findall(
            rf'Epoch\(val\) +\[{epoch}\]\S* +coco/AP: ([0-9.]+)',
            open(path).read())
        if found:
            return float(found[-1])
    raise AssertionError(f'no validation at epoch {epoch} in {work_dir}')


def test_load_from_evaluates(trained, lab_run, tmp_path):
    """load_from puts the epoch-2 weights in the model: its test AP is the
    AP the run validated at epoch 2 on the same images."""
    cfg = lab_run['training'](str(tmp_path), 1)
    path = osp.join(trained, 'epoch_2.pth')
    cfg.load_from = path
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    saved = torch.load(path, weights_only=True)['state_dict']
    for key in ('head.final_layer.weight', 'neck.gamma'):
        torch.testing.assert_close(runner.model.state_dict()[key], saved[key])
    assert metrics['coco/AP'] == pytest.approx(
        logged_val_ap(trained, 2), abs=1e-4)


class _Reduce:
    """An object whose pickle calls ``func(*args)`` when loaded."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize(
    'func, args', [(os.system, ('echo pwned', )), (eval, ('1 + 1', )),
                   (getattr, (np.ndarray, 'tofile')),
                   (getattr, (HistoryBuffer, '__init__')), (bytes, (10**9, ))],
    ids=[
        'os.system', 'eval', 'getattr-ndarray', 'getattr-dunder',
        'bytes-allocation'
    ])
def test_code_running_pickles_are_refused(func, args):
    buffer = io.BytesIO()
    torch.save({'state_dict': {}, 'payload': _Reduce(func, args)}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer)


def test_history_buffer_getattr_is_narrow():
    assert history_buffer_getattr(HistoryBuffer, 'mean') is \
        HistoryBuffer.mean
    with pytest.raises(pickle.UnpicklingError, match='refusing getattr'):
        history_buffer_getattr(HistoryBuffer, '__class__')
    with pytest.raises(pickle.UnpicklingError):
        history_buffer_getattr(os, 'system')


def test_empty_bytes_is_narrow():
    assert empty_bytes() == b''
    with pytest.raises(pickle.UnpicklingError, match='only the empty bytes'):
        empty_bytes(10**9)
    # an empty array pickles with protocol 2 through bytes() and loads
    buffer = io.BytesIO()
    torch.save({'colors': np.zeros((0, 3), np.uint8)}, buffer)
    buffer.seek(0)
    assert torch.load(buffer)['colors'].shape == (0, 3)


def test_corrupt_checkpoint_is_an_error(trained, tmp_path):
    data = open(osp.join(trained, 'epoch_2.pth'), 'rb').read()
    broken = tmp_path / 'broken.pth'
    broken.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='zip|central directory'):
        torch.load(str(broken))
