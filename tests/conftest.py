"""Fixtures shared by the test modules (their paths: ``tests/paths.py``)."""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import pytest
from mmengine.config import Config

from tests.paths import AP10K, TINY_CONFIGS

# Under pytest-xdist (make test runs -n 2), each worker takes its share of
# the cores, so that two workers' torch jobs do not oversubscribe them;
# subprocesses (mim, torchrun, the tools) inherit the share.
if os.environ.get('PYTEST_XDIST_WORKER'):
    _share = max(1, (os.cpu_count() or 1) //
                 int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1')))
    os.environ['OMP_NUM_THREADS'] = str(_share)
    os.environ['MKL_NUM_THREADS'] = str(_share)
    import torch
    torch.set_num_threads(_share)

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


# AP-10K's nose, neck, root of tail and right back paw, renamed
FOUR_KEPT = [2, 3, 4, 16]
FOUR_NAMES = ['snout', 'neck', 'tailbase', 'paw']


def _write_four_keypoint_dataset(folder: str) -> Tuple[str, str]:
    """A DeepLabCut-like dataset from the bundled AP-10K images: 4 keypoints
    with its own names, an empty skeleton, no flip pairs, own sigmas.
    Returns its COCO file and its MMPose metainfo file."""
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(AP10K, 'test_ap10k.json')) as f:
        coco = json.load(f)
    for ann in coco['annotations']:
        points = np.array(ann['keypoints']).reshape(-1, 3)[FOUR_KEPT]
        ann['keypoints'] = points.reshape(-1).tolist()
        ann['num_keypoints'] = int((points[:, 2] > 0).sum())
    coco['categories'] = [
        dict(id=1, name='mouse', keypoints=FOUR_NAMES, skeleton=[])
    ]
    labels = osp.join(folder, 'labels.json')
    with open(labels, 'w') as f:
        json.dump(coco, f)
    keypoints = {
        i: dict(name=name, id=i, color=[255, 0, 0], type='', swap='')
        for i, name in enumerate(FOUR_NAMES)
    }
    meta = osp.join(folder, 'mouse4.py')
    with open(meta, 'w') as f:
        f.write(f'dataset_info = dict(dataset_name="mouse4", '
                f'keypoint_info={keypoints!r}, skeleton_info={{}}, '
                'joint_weights=[1.0] * 4, '
                'sigmas=[0.026, 0.035, 0.079, 0.089])\n')
    return labels, meta


def _write_dataset_config(path: str,
                          base: str,
                          ann_file: str,
                          metainfo: Optional[str],
                          img_root: str,
                          dataset_type: Optional[str] = None,
                          model: str = '',
                          state_model: bool = True) -> str:
    """A downstream config that inherits ``base`` and states its dataset
    once: one ``metainfo`` variable for the loaders and, unless
    ``state_model`` is False, the model. ``model`` adds fields to the
    model's dict (``"head=dict(out_channels=4)"``)."""
    fields = [
        f'data_root={osp.join(img_root, "")!r}', f'ann_file={ann_file!r}',
        "data_prefix=dict(img='')"
    ]
    lines = [f'_base_ = [{base!r}]']
    model_fields = [model] if model else []
    if metainfo is not None:
        lines.append(f'metainfo = dict(from_file={metainfo!r})')
        fields.append('metainfo=metainfo')
        if state_model:
            model_fields.insert(0, 'metainfo=metainfo')
    if dataset_type is not None:
        fields.append(f'type={dataset_type!r}')
    if model_fields:
        lines.append(f'model = dict({", ".join(model_fields)})')
    lines += [
        f'data = dict({", ".join(fields)})',
        'train_dataloader = dict(dataset=data)',
        'val_dataloader = dict(dataset=data)',
        'test_dataloader = val_dataloader',
        f'val_evaluator = dict(ann_file={ann_file!r})',
        'test_evaluator = val_evaluator',
    ]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


@pytest.fixture(scope='session')
def four_keypoint_dataset() -> Callable[[str], Tuple[str, str]]:
    """Write the 4-keypoint dataset into a folder: (COCO file, metainfo)."""
    return _write_four_keypoint_dataset


@pytest.fixture(scope='session')
def dataset_config() -> Callable[..., str]:
    """Write a downstream config that states only its dataset."""
    return _write_dataset_config


@pytest.fixture(scope='session')
def tiny_config() -> Callable[[str], Config]:
    """Load the tiny config of a backbone, ``'resnet'`` or ``'vit'``
    (``tests.paths.TINY_CONFIGS``): a fresh Config each call, to edit."""

    def load(kind: str = 'resnet') -> Config:
        return Config.fromfile(TINY_CONFIGS[kind])

    return load


def _write_random_checkpoint(config: str, path: str, seed: int = 0) -> str:
    import torch

    from promptpose_mm.apis import build_random_model, load_config
    torch.manual_seed(seed)
    model = build_random_model(load_config(config))
    # perturbed BatchNorm statistics: eval mode is not the identity, and the
    # heatmaps have clear maxima (a 1-epoch model's are nearly flat, so that
    # float noise would decide their argmax)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture(scope='session')
def random_checkpoint() -> Callable[..., str]:
    """Save a random-weight model of a config as MMEngine saves one:
    ``random_checkpoint(config, path, seed=0)`` returns ``path``."""
    return _write_random_checkpoint


@pytest.fixture(scope='session')
def lab_run(tmp_path_factory) -> Dict[str, str]:
    """The one trained checkpoint the tools' tests share: a lab's model as
    ``mim train`` makes it (in this process) of an imported DeepLabCut
    project (drawn mice, 95x81 frames, whole-frame boxes), on the tiny
    backbone, two epochs, validated and saved after each.

    Returns:
        dict: ``config`` (the importer's), ``work_dir`` (MMEngine's logs
        and ``epoch_1.pth``, ``epoch_2.pth``; copy it before resuming),
        ``checkpoint`` (``epoch_2.pth``) and ``training`` (a function of
        ``(work_dir, epochs)`` giving the run's config for another run,
        :func:`lab_run_config`).
    """
    from mmengine.runner import Runner

    from promptpose_mm.annotations import import_labels
    from promptpose_mm.testing.label_projects import write_deeplabcut_project
    from tests.paths import TINY
    folder = tmp_path_factory.mktemp('lab')
    write_deeplabcut_project(
        str(folder / 'project'), {
            'cage1': 3,
            'cage2': 2
        }, size=(95, 81))
    data = import_labels(
        str(folder / 'project'),
        str(folder / 'data'),
        base_config=TINY,
        box_mode='frame',
        batch_size=2)
    work_dir = str(folder / 'work')
    Runner.from_cfg(lab_run_config(data['config'], work_dir, 2)).train()
    return dict(
        config=data['config'],
        work_dir=work_dir,
        checkpoint=osp.join(work_dir, 'epoch_2.pth'),
        training=lambda where, epochs: lab_run_config(data['config'], where,
                                                      epochs))


def lab_run_config(config: str, work_dir: str, epochs: int) -> Config:
    """``config`` trained for ``epochs`` into ``work_dir``, validated and
    saved after every epoch, logging every iteration (as :func:`lab_run`
    trains it)."""
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = 3
    cfg.default_hooks.logger.interval = 1
    return cfg


# RTMDet-tiny at 320 x 320, at most 3 boxes, no pretrained download
_DET_CONFIG = """_base_ = {base!r}
model = dict(backbone=dict(init_cfg=None),
             test_cfg=dict(nms_pre=1000, max_per_img=3))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(320, 320), keep_ratio=True),
    dict(type='Pad', size=(320, 320), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor'))
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
"""
DOG = 16  # COCO class index


@pytest.fixture(scope='session')
def tiny_dog_detector(tmp_path_factory) -> Dict[str, object]:
    """A tiny RTMDet whose classifier calls every location a dog (score
    0.99995) with a fixed box size: it detects deterministically without
    downloaded weights. Returns its ``config``, ``checkpoint`` and
    ``label`` (the COCO class index it predicts)."""
    import torch
    from mmdet.apis import init_detector
    from mmengine.utils import get_installed_path
    root = tmp_path_factory.mktemp('detector')
    base = osp.join(
        get_installed_path('mmpose'), '.mim', 'demo', 'mmdetection_cfg',
        'rtmdet_tiny_8xb32-300e_coco.py')
    config = str(root / 'rtmdet_tiny_dog.py')
    with open(config, 'w') as f:
        f.write(_DET_CONFIG.format(base=base))
    detector = init_detector(config, None, device='cpu')
    state = detector.state_dict()
    for key, value in state.items():
        if '.rtm_cls.' in key or '.rtm_reg.' in key:
            value.zero_()
        if '.rtm_cls.' in key and key.endswith('bias'):
            value.fill_(-10.)
            value[DOG] = 10.  # a dog everywhere, score 0.99995
        if '.rtm_reg.' in key and key.endswith('bias'):
            value.fill_(2.)  # boxes 4 strides wide
    checkpoint = str(root / 'rtmdet_tiny_dog.pth')
    torch.save(
        dict(state_dict=state, meta=dict(dataset_meta=detector.dataset_meta)),
        checkpoint)
    return dict(config=config, checkpoint=checkpoint, label=DOG)
