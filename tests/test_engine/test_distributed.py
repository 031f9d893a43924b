"""Two processes through MMEngine's launcher on the CPU (gloo), no config
edits: training ends with the same weights on both ranks, and evaluating a
checkpoint on two processes gives what one process gives.
"""
import json
import os
import os.path as osp
import pickle
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.paths import ROOT, TINY

BIN = osp.dirname(sys.executable)

pytestmark = [
    pytest.mark.slow,  # torchrun launches
    pytest.mark.skipif(
        torch.cuda.is_available(), reason='checks the CPU (gloo) path')
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run(args: list, cwd: str) -> str:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return output


def torchrun(script: str, *args: str, cwd: str) -> str:
    return run([
        osp.join(BIN, 'torchrun'), '--nproc_per_node', '2', '--master_addr',
        '127.0.0.1', '--master_port',
        str(free_port()), script, *args
    ], cwd)


def mmpose_tool(name: str) -> str:
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', name)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('dist_train'))
    torchrun(
        osp.join(ROOT, 'tests', 'dist', 'train_sync_check.py'),
        work_dir,
        TINY,
        cwd=work_dir)
    return work_dir


def test_two_process_training_ends_synchronised(trained):
    with open(osp.join(trained, 'ranks.json')) as f:
        ranks = json.load(f)
    assert [r['rank'] for r in ranks] == [0, 1]
    assert {r['backend'] for r in ranks} == {'gloo'}
    assert ranks[0]['checksum'] == ranks[1]['checksum']
    assert osp.isfile(osp.join(trained, 'epoch_3.pth'))


def metrics_of(output: str) -> dict:
    line = [ln for ln in output.splitlines() if 'Epoch(test)' in ln][-1]
    return {
        key: float(value)
        for key, value in re.findall(r'(coco/[\w .()]+?): (-?[\d.]+)', line)
    }


def sorted_predictions(path: str) -> np.ndarray:
    with open(path, 'rb') as f:
        samples = pickle.load(f)
    samples = sorted(samples, key=lambda s: s['img_id'])
    return np.stack([s['pred_instances']['keypoints'] for s in samples])


def test_two_process_evaluation_matches_one(trained, tmp_path):
    checkpoint = osp.join(trained, 'epoch_3.pth')
    test_py = mmpose_tool('test.py')
    single = run([
        sys.executable, test_py, TINY, checkpoint, '--work-dir',
        str(tmp_path / 'one'), '--dump',
        str(tmp_path / 'one.pkl')
    ], str(tmp_path))
    double = torchrun(
        test_py,
        TINY,
        checkpoint,
        '--launcher',
        'pytorch',
        '--work-dir',
        str(tmp_path / 'two'),
        '--dump',
        str(tmp_path / 'two.pkl'),
        cwd=str(tmp_path))
    assert 'Distributed training: True' in double
    one, two = metrics_of(single), metrics_of(double)
    assert one and one == two
    np.testing.assert_allclose(
        sorted_predictions(str(tmp_path / 'one.pkl')),
        sorted_predictions(str(tmp_path / 'two.pkl')),
        atol=1e-4)
