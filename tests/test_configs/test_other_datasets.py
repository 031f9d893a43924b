"""Another MMPose keypoint dataset without code changes.

``projects/zebra_example`` stands for another project: its config inherits
the tiny PromptPose config by a relative path and switches to MMPose's
``ZebraDataset`` (9 keypoints); the prompts come from the zebra metainfo and
the metrics are MMPose's zebra ones (its metainfo has no OKS sigmas, so
``CocoMetric`` cannot score it).
"""
import math
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tests.paths import ROOT

PROJECT = osp.join(ROOT, 'projects', 'zebra_example')
CONFIG = osp.join(PROJECT, 'configs', 'promptpose-tiny_zebra.py')
ZEBRA_NAMES = [
    'snout', 'head', 'neck', 'foreleg left 1', 'foreleg right 1',
    'hindleg left 1', 'hindleg right 1', 'tailbase', 'tailtip'
]


def test_config_inherits_instead_of_copying():
    with open(CONFIG) as file:
        text = file.read()
    assert "_base_ = ['../../../configs/promptpose_tiny_ap10k.py']" in text
    assert 'promptpose_mm::' not in text.split('_base_ =')[1]
    for copied in ('PromptPoseHead', 'CLIPResNet', 'optim_wrapper', 'codec'):
        assert copied not in text
    with open(osp.join(PROJECT, 'README.md')) as file:
        readme = file.read()
    assert 'package::' in readme and 'relative' in readme


def test_zebra_trains_and_evaluates_from_another_directory(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 2
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)

    dataset = runner.train_dataloader.dataset
    assert dataset.metainfo['dataset_name'] == 'zebra'
    assert dataset.metainfo['num_keypoints'] == 9
    assert len(dataset) == 2
    model = runner.model
    assert model.neck.keypoint_names == ZEBRA_NAMES
    assert model.neck.num_keypoints == 9

    before = model.head.final_layer.weight.detach().clone()
    runner.train()
    assert runner.epoch == 2 and runner.iter == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    assert not torch.equal(model.head.final_layer.weight, before)
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_2.pth'))

    # zebra has no OKS sigmas: MMPose's zebra metrics (PCK, AUC, EPE)
    assert runner.val_evaluator.dataset_meta['sigmas'].size == 0
    metrics = runner.val()
    assert set(metrics) == {'PCK', 'AUC', 'EPE'}
    assert 0.0 <= metrics['PCK'] <= 1.0 and 0.0 <= metrics['AUC'] <= 1.0
    assert math.isfinite(metrics['EPE']) and metrics['EPE'] >= 0
