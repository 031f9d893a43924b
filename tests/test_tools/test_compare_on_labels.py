"""The DeepLabCut reader and the real-data comparison tool.

The data is a 5-frame copy of DeepLabCut's example project in
tests/data/deeplabcut (see its README); the comparison runs the tiny
configs for one epoch of two iterations.
"""
import csv
import json
import math
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from promptpose_mm.analysis.label_comparison import (ABLATIONS, Protocol,
                                                     format_comparison,
                                                     write_protocol_configs)
from promptpose_mm.annotations import import_labels
from promptpose_mm.annotations.metainfo import pose_metainfo
from promptpose_mm.engine import apply_dataset_keypoints
from promptpose_mm.io import LabelSet
from promptpose_mm.io.deeplabcut import read_deeplabcut_project
from promptpose_mm.utils.boxes import square_box
from tests.paths import REACHING, ROOT, load_tool

PROJECT = REACHING
TABLE = osp.join(PROJECT, 'labeled-data', 'reachingvideo1',
                 'CollectedData_Mackenzie.csv')
BODYPARTS = ['Hand', 'Finger1', 'Tongue', 'Joystick1', 'Joystick2']
CONFIG_DIR = osp.join(ROOT, 'configs', 'promptpose')
PAPER = osp.join(CONFIG_DIR,
                 'td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py')
PAPER_BASELINE = osp.join(CONFIG_DIR,
                          'td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py')


def _csv_rows():
    """The label table read with the csv module: name -> list of cells."""
    with open(TABLE) as file:
        rows = list(csv.reader(file))
    return {row[0]: row[1:] for row in rows[3:]}


def test_reads_the_project_exactly():
    project = read_deeplabcut_project(PROJECT)
    assert project.name == 'Reaching'
    assert project.bodyparts == BODYPARTS
    assert project.skeleton == [('Hand', 'Finger1'),
                                ('Joystick1', 'Joystick2')]
    rows = _csv_rows()
    assert [f.file_name for f in project.frames] == list(rows)
    sizes = {
        osp.basename(f.file_name): (f.width, f.height)
        for f in project.frames
    }
    assert sizes['img005.png'] == (832, 747)
    assert sizes['img033.png'] == (640, 470)
    for frame in project.frames:
        cells = rows[frame.file_name]
        for k in range(len(BODYPARTS)):
            x, y = cells[2 * k:2 * k + 2]
            if x == '':
                assert np.isnan(frame.instances[0][k]).all()
            else:
                # exactly the decimal written in the table
                assert frame.instances[0][k].tolist() == [float(x), float(y)]


def test_converts_to_coco_and_metainfo(tmp_path):
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    data = import_labels(
        PROJECT, str(tmp_path), base_config=PAPER, val_every=5)
    assert (data['num_train'], data['num_val']) == (4, 1)
    rows = _csv_rows()
    with open(data['train']) as file:
        train = json.load(file)
    with open(data['val']) as file:
        val = json.load(file)
    assert [i['file_name'] for i in train['images']] == list(rows)[:4]
    assert [i['file_name'] for i in val['images']] == list(rows)[4:]
    assert train['categories'][0]['keypoints'] == BODYPARTS
    assert train['categories'][0]['skeleton'] == [[1, 2], [4, 5]]
    for coco in (train, val):
        names = {i['id']: i['file_name'] for i in coco['images']}
        for ann in coco['annotations']:
            cells = rows[names[ann['image_id']]]
            expected = []
            for k in range(len(BODYPARTS)):
                x, y = cells[2 * k:2 * k + 2]
                expected += [float(x), float(y), 2] if x else [0.0, 0.0, 0]
            assert ann['keypoints'] == expected
            assert ann['num_keypoints'] == sum(v == 2 for v in expected[2::3])
            # a square around the labelled points, 25 % of the side padded
            xs = np.array(expected[0::3])[np.array(expected[2::3]) > 0]
            ys = np.array(expected[1::3])[np.array(expected[2::3]) > 0]
            side = max(xs.max() - xs.min(), ys.max() - ys.min()) * 1.5
            x0, y0, w, h = ann['bbox']
            assert w == pytest.approx(side) and h == pytest.approx(side)
            assert x0 + w / 2 == pytest.approx((xs.min() + xs.max()) / 2)
            assert y0 + h / 2 == pytest.approx((ys.min() + ys.max()) / 2)
            assert ann['area'] == pytest.approx(side * side)
    meta = parse_pose_metainfo(dict(from_file=data['metainfo']))
    assert meta['num_keypoints'] == 5
    assert [meta['keypoint_id2name'][i] for i in range(5)] == BODYPARTS
    assert meta['flip_indices'] == [0, 1, 2, 3, 4]  # no left/right names
    assert meta['skeleton_links'] == [(0, 1), (3, 4)]
    np.testing.assert_allclose(meta['sigmas'], 0.025)


def test_flip_pairs_only_for_left_right_names():
    project = LabelSet(
        'x', ['LeftEar', 'RightEar', 'nose', 'L_paw', 'R_paw', 'leftonly'], [],
        [], '.')
    info = pose_metainfo(project)['keypoint_info']
    assert [info[i]['swap'] for i in range(6)
            ] == ['RightEar', 'LeftEar', '', 'R_paw', 'L_paw', '']


def test_square_box_of_one_point_is_not_empty():
    box = square_box(np.array([[10.0, 20.0], [np.nan, np.nan]]), 0.25)
    assert box == [9.25, 19.25, 1.5, 1.5]


def test_configs_inherit_and_ablate(tmp_path):
    data = import_labels(
        PROJECT, str(tmp_path / 'data'), base_config=PAPER, val_every=5)
    configs = write_protocol_configs(
        data,
        str(tmp_path / 'configs'),
        PAPER,
        PAPER_BASELINE,
        Protocol(
            epochs=40,
            val_interval=10,
            batch_size=16,
            lr=1e-3,
            warmup_iters=50,
            milestones=(30, ),
            seed=0),
        ablations=list(ABLATIONS))
    assert list(configs)[:2] == ['simplebaseline', 'promptpose']
    with open(configs['promptpose']) as file:
        text = file.read()
    assert f'_base_ = [{PAPER!r}]' in text
    for copied in ('PromptPoseHead', 'CLIPResNet', 'codec', 'pipeline'):
        assert copied not in text
    paper = Config.fromfile(PAPER)
    cfg = Config.fromfile(configs['promptpose'])
    base = Config.fromfile(configs['simplebaseline'])
    for c in (cfg, base):
        assert c.model.backbone.init_cfg is None
        # the dataset is stated once; K follows from it
        assert c.model.head.out_channels is None
        assert apply_dataset_keypoints(c).model.head.out_channels == 5
        assert c.train_cfg.max_epochs == 40
        assert c.optim_wrapper.optimizer == dict(
            type='Adam', lr=1e-3, weight_decay=0.)
        assert c.param_scheduler[0]['end'] == 50
        assert c.param_scheduler[1]['milestones'] == [30]
        assert c.randomness.seed == 0
        assert c.train_dataloader.dataset.pipeline == paper.train_pipeline
        assert c.val_dataloader.dataset.pipeline == paper.val_pipeline
        assert c.model.test_cfg == paper.model.test_cfg
        assert [e['type'] for e in c.val_evaluator
                ] == ['CocoMetric', 'PCKAccuracy', 'EPE']
    assert base.model.neck is None
    assert cfg.model.neck.init_cfg is None
    assert cfg.model.neck.get('metainfo') is None
    resolved = apply_dataset_keypoints(cfg).model.neck
    assert resolved.num_keypoints == 5
    assert resolved.metainfo == cfg.train_dataloader.dataset.metainfo
    assert cfg.model.head.pixel_loss == paper.model.head.pixel_loss
    for name, options in ABLATIONS.items():
        ablated = Config.fromfile(configs[f'promptpose-no_{name}'])
        for key, value in options.items():
            node = ablated
            for part in key.split('.'):
                node = node[part]
            assert node == value
        # everything else as PromptPose's protocol config
        flat = {k: v for k, v in ablated.to_dict().items()}
        assert flat['train_cfg'] == cfg.to_dict()['train_cfg']


@pytest.mark.slow  # trains or times several models
def test_compare_tool_runs_the_tiny_pair(tmp_path, capsys):
    tool = load_tool('analysis/compare_on_labels.py')
    work = tmp_path / 'work'
    table = tool.main([
        PROJECT, '--work-dir',
        str(work), '--pair', 'tiny', '--epochs', '1', '--val-interval', '1',
        '--batch-size', '2', '--warmup', '1', '--milestones', '1', '--ablate',
        'pixel,fusion'
    ])
    lines = table.splitlines()
    assert lines[0].startswith('| model ') and 'epoch 1: AP / EPE' in lines[0]
    names = [line.split('|')[1].strip() for line in lines[2:6]]
    assert names == [
        'simplebaseline', 'promptpose', 'promptpose-no_pixel',
        'promptpose-no_fusion'
    ]
    for name in names:
        with open(work / 'runs' / name / 'result.json') as file:
            result = json.load(file)
        (record, ) = result['evaluations']
        assert record['epoch'] == 1 and record['iter'] == 2
        assert 0.0 <= record['coco/AP'] <= 1.0
        assert math.isfinite(record['EPE']) and record['EPE'] >= 0
        cell = [line for line in lines if line.startswith(f'| {name} ')][0]
        assert f'{record["coco/AP"]:.3f} / {record["EPE"]:.1f}' in cell
    assert table in capsys.readouterr().out
    assert (work / 'comparison.md').read_text().strip() == table


def test_format_comparison_marks_missing_evaluations():
    results = dict(
        a=dict(
            evaluations=[dict(epoch=10, **{
                'coco/AP': 0.5,
                'EPE': 3.0
            })],
            train_seconds=12.0),
        b=dict(evaluations=[], train_seconds=1.0))
    table = format_comparison(results, 'note')
    assert '0.500 / 3.0' in table and '| -' in table
    assert table.endswith('note')


def test_head_without_score_map_fusion():
    import torch

    from promptpose_mm.models import PromptPoseFeatures
    from promptpose_mm.models.heads import PromptPoseHead
    head = PromptPoseHead(
        in_channels=8,
        out_channels=3,
        deconv_out_channels=(4, ),
        deconv_kernel_sizes=(4, ),
        fuse_score_map=False)
    assert head.deconv_layers[0].in_channels == 8
    visual = torch.randn(2, 8, 4, 4)
    feats = PromptPoseFeatures((visual, ), torch.randn(2, 3, 4, 4),
                               torch.randn(2, 6, 4, 4), torch.randn(2, 3, 6))
    out = head.forward(feats)
    assert out.shape == (2, 3, 8, 8)
    # the score map does not reach the keypoint branch
    changed = feats._replace(score_map=torch.randn(2, 3, 4, 4))
    torch.testing.assert_close(head.forward(changed), out)
    fused = PromptPoseHead(
        in_channels=8,
        out_channels=3,
        deconv_out_channels=(4, ),
        deconv_kernel_sizes=(4, ))
    assert fused.deconv_layers[0].in_channels == 11
