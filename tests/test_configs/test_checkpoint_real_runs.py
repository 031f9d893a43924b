"""Checkpoints of real ``mim train`` runs over varied datasets load safely.

A user's first downstream run (a DeepLabCut-style dataset with 4 keypoints,
an empty skeleton, no flip pairs, its own OKS sigmas) wrote a checkpoint the
allow-list refused: MMPose turns the empty skeleton into an empty
``skeleton_link_colors`` array, which torch's pickle protocol 2 stores with
an empty ``bytes()``. Here real runs over several datasets (AP-10K's 17
keypoints with flip pairs, that 4-keypoint dataset, the 9-keypoint zebra
project without sigmas) write checkpoints; every global their pickles hold
is one the allow-list answers, and each loads for ``mim test``, ``--resume``,
``load_from`` and the inferencer. Code-running pickles stay refused
(tests/test_utils/test_checkpoint.py).
"""
import glob
import json
import os
import os.path as osp
import pickletools
import zipfile

import numpy as np
import pytest
import torch
from mmpose.apis import inference_topdown
from mmpose.apis import init_model as mmpose_init_model

import promptpose_mm  # noqa: F401  (the allow-list)
from promptpose_mm.apis.inference import check_pose_checkpoint
from promptpose_mm.utils.precision import cpu_bfloat16_units
from tests.paths import AP10K, ROOT, load_tool

pytestmark = pytest.mark.slow  # mim train / mim test runs

# Every global an MMEngine checkpoint of these runs may hold: torch's own
# rebuild helpers, and what promptpose_mm.utils.checkpoint allows.
EXPECTED_GLOBALS = {
    'collections.OrderedDict', 'torch._utils._rebuild_tensor_v2',
    'torch._utils._rebuild_parameter', 'torch.FloatStorage',
    'torch.LongStorage', 'torch.BoolStorage', 'torch.IntStorage',
    '_codecs.encode', 'numpy.ndarray', 'numpy.dtype',
    'numpy.core.multiarray._reconstruct',
    'numpy._core.multiarray._reconstruct', 'numpy.core.multiarray.scalar',
    'numpy._core.multiarray.scalar',
    'mmengine.logging.history_buffer.HistoryBuffer', '__builtin__.getattr',
    'builtins.getattr', '__builtin__.bytes', 'builtins.bytes'
}


def pickled_globals(path: str) -> set:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
        ops = pickletools.genops(archive.read(name))
        return {
            arg.replace(' ', '.')
            for op, arg, _ in ops if op.name == 'GLOBAL'
        }


def mim_train(mim,
              config: str,
              work_dir: str,
              cwd: str,
              *options: str,
              resume: bool = False) -> str:
    """``mim train`` with a checkpoint and an evaluation every epoch."""
    return mim(
        'train',
        'mmpose',
        config,
        '--work-dir',
        work_dir,
        *(['--resume'] if resume else []),
        '--cfg-options',
        *options,
        cwd=cwd)


def mouse4_config(tmp, request) -> str:
    """The 4-keypoint dataset (conftest) and a config that inherits the
    tiny PromptPose config by a relative path and states only the data."""
    folder = str(tmp / 'mouse4')
    labels, meta = request.getfixturevalue('four_keypoint_dataset')(folder)
    tiny = osp.relpath(
        osp.join(ROOT, 'configs', 'promptpose_tiny_ap10k.py'), folder)
    return request.getfixturevalue('dataset_config')(osp.join(
        folder, 'mouse4_config.py'), tiny, labels, meta, AP10K)


RUNS = {
    'ap10k':
    lambda tmp, request: osp.join(ROOT, 'configs', 'promptpose_tiny_ap10k.py'),
    'mouse4':
    mouse4_config,
    'zebra':
    lambda tmp, request: osp.join(ROOT, 'projects', 'zebra_example', 'configs',
                                  'promptpose-tiny_zebra.py'),
}


@pytest.fixture(scope='module', params=sorted(RUNS))
def run(request, tmp_path_factory, mim):
    """Two epochs of ``mim train``, evaluated and saved after the second
    (``save_best``): (config, work dir)."""
    tmp = tmp_path_factory.mktemp(request.param)
    config = RUNS[request.param](tmp, request)
    work_dir = str(tmp / 'work')
    # one run trains in mixed precision (bfloat16 on a CPU with its units)
    amp = request.param == 'zebra' and bool(cpu_bfloat16_units())
    out = mim(
        'train',
        'mmpose',
        config,
        '--work-dir',
        work_dir,
        '--auto-scale-lr',
        *(['--amp'] if amp else []),
        '--cfg-options',
        'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        cwd=str(tmp))
    assert 'Training finished successfully' in out
    assert ('bfloat16 autocast (CPUAmpOptimWrapper)' in out) == amp
    # --auto-scale-lr: the tiny configs' base batch is their batch (2)
    assert 'LR is set based on batch size of 2' in open(
        glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    return request.param, config, work_dir


def best_checkpoint(work_dir: str) -> str:
    best = glob.glob(osp.join(work_dir, 'best_*.pth'))
    assert len(best) == 1, os.listdir(work_dir)
    return best[0]


def test_checkpoints_hold_only_allowed_globals(run):
    name, _, work_dir = run
    for path in [best_checkpoint(work_dir), osp.join(work_dir, 'epoch_2.pth')]:
        found = pickled_globals(path)
        assert found <= EXPECTED_GLOBALS, found - EXPECTED_GLOBALS
        checkpoint = torch.load(path, map_location='cpu')
        meta = checkpoint['meta']['dataset_meta']
        assert meta['num_keypoints'] == {
            'ap10k': 17,
            'mouse4': 4,
            'zebra': 9
        }[name]
    if name == 'mouse4':
        # the empty skeleton that once made the checkpoint unloadable
        assert '__builtin__.bytes' in found
        assert meta['skeleton_links'] == []
        assert meta['skeleton_link_colors'].size == 0
        assert meta['flip_indices'] == [0, 1, 2, 3]
        np.testing.assert_allclose(meta['sigmas'],
                                   [0.026, 0.035, 0.079, 0.089])


def test_best_checkpoint_tests_resumes_and_infers(run, tmp_path, mim):
    name, config, work_dir = run
    best = best_checkpoint(work_dir)
    # mim test of a config in configs/ and in projects/ (an imported
    # project's: tests/test_annotations/test_import_labels.py)
    if name != 'mouse4':
        out = mim(
            'test',
            'mmpose',
            config,
            '--checkpoint',
            best,
            '--work-dir',
            str(tmp_path / 'test'),
            cwd=str(tmp_path))
        assert 'Load checkpoint from' in out
        assert 'coco/AP:' in out or 'PCK:' in out
    if name == 'ap10k':  # resuming does not depend on the data
        out = mim_train(
            mim,
            config,
            work_dir,
            str(tmp_path),
            'train_cfg.max_epochs=3',
            'train_cfg.val_interval=3',
            resume=True)
        assert 'resumed epoch: 2, iter: ' in out
    loaded = check_pose_checkpoint(best, config)
    assert loaded['meta']['epoch'] == 2
    image = osp.join(AP10K, '000000000004.jpg')
    # the image tool, in this process (a subprocess would add nothing)
    load_tool('inference.py').main([
        image, '--config', config, '--checkpoint', best, '--out-dir',
        str(tmp_path / 'pred'), '--device', 'cpu'
    ])
    with open(tmp_path / 'pred' / 'predictions.json') as f:
        written = json.load(f)
    # the tool's keypoints are those of MMPose's own inference with the
    # same checkpoint and the whole image as the box
    model = mmpose_init_model(config, best, device='cpu')
    expected = inference_topdown(model, image)[0].pred_instances
    k = model.head.final_layer.out_channels
    assert len(written['keypoint_names']) == k
    [result] = written['results']
    assert result['boxes_from'] == 'whole_image'
    [instance] = result['instances']
    np.testing.assert_allclose(
        instance['keypoints'], expected.keypoints[0], atol=1e-3)
    np.testing.assert_allclose(
        instance['keypoint_scores'], expected.keypoint_scores[0], atol=1e-4)
