"""DeepLabCut projects and SLEAP files imported as data sets.

The projects are written by promptpose_mm.testing.label_projects in the
tools' own formats (DeepLabCut tables by pandas, SLEAP files by sleap-io)
with drawn animals whose exact points are known.
"""
import ast
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from promptpose_mm.annotations import import_labels
from promptpose_mm.engine import apply_dataset_keypoints
from promptpose_mm.io import LabelError
from promptpose_mm.io.deeplabcut import read_deeplabcut_project
from promptpose_mm.testing.label_projects import (MOUSE_PARTS,
                                                  write_deeplabcut_project,
                                                  write_sleap_file)
from tests.paths import PROMPTPOSE_CONFIGS, ROOT, TINY, load_tool

PAPER_RN50 = osp.join(
    PROMPTPOSE_CONFIGS,
    'td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py')


def triplets(points: np.ndarray) -> list:
    """COCO keypoints of ``(K, 2)`` points: ``x, y, 2``; ``0, 0, 0`` where
    unlabelled."""
    out = []
    for x, y in points:
        out += [0.0, 0.0, 0] if np.isnan(x) else [float(x), float(y), 2]
    return out


def exported(result: dict) -> dict:
    """file_name -> list of (keypoints, bbox, area) of both splits."""
    found = {}
    for split in ('train', 'val'):
        with open(result[split]) as file:
            coco = json.load(file)
        names = {image['id']: image['file_name'] for image in coco['images']}
        for ann in coco['annotations']:
            found.setdefault(names[ann['image_id']], []).append(
                (ann['keypoints'], ann['bbox'], ann['area']))
    return found


def labelled_animals(points: np.ndarray) -> np.ndarray:
    return points[~np.isnan(points).all(-1).all(-1)]


@pytest.fixture
def dlc_project(tmp_path):
    root = str(tmp_path / 'mouse-lab-2026')
    drawn = write_deeplabcut_project(root, {'cage1': 4, 'cage2': 3})
    return root, drawn


def test_deeplabcut_points_are_exported_exactly(dlc_project, tmp_path):
    root, drawn = dlc_project
    result = import_labels(root, str(tmp_path / 'out'), base_config=TINY)
    found = exported(result)
    assert sorted(found) == sorted(d.file_name for d in drawn)
    for frame in drawn:
        (keypoints, _, _), = found[frame.file_name]
        assert keypoints == triplets(frame.points[0])
    assert result['num_keypoints'] == 4
    assert result['counts']['train']['frames'] + result['counts']['val'][
        'frames'] == 7
    points = sum(int(np.isfinite(d.points).all(-1).sum()) for d in drawn)
    assert (result['counts']['train']['points'] +
            result['counts']['val']['points']) == points
    assert result['img_root'] == osp.abspath(root)


def test_multi_animal_project(tmp_path):
    root = str(tmp_path / 'pair')
    drawn = write_deeplabcut_project(
        root, {'arena': 3},
        individuals=['mouse1', 'mouse2'],
        unique=['feeder'],
        unlabelled=0.3,
        seed=3)
    labels = read_deeplabcut_project(root)
    assert labels.bodyparts == MOUSE_PARTS
    for frame, truth in zip(labels.frames, drawn):
        kept = labelled_animals(truth.points)
        np.testing.assert_array_equal(frame.instances, kept)
        assert len(frame.tracks) == len(kept)
    result = import_labels(
        root, str(tmp_path / 'out'), base_config=TINY, val_fraction=0.34)
    found = exported(result)
    for truth in drawn:
        assert [k for k, _, _ in found[truth.file_name]
                ] == [triplets(p) for p in labelled_animals(truth.points)]
    # the unique bodypart belongs to no individual: reported, not dropped
    assert any('3 x unique bodypart' in line for line in result['skipped'])
    assert 'unique bodypart' in result['text']


def test_an_animal_without_points_is_counted(tmp_path):
    root = str(tmp_path / 'pair')
    write_deeplabcut_project(
        root, {'arena': 3}, individuals=['mouse1', 'mouse2'], unlabelled=0.)
    table = osp.join(root, 'labeled-data', 'arena', 'CollectedData_lab.csv')
    with open(table) as file:
        lines = file.read().splitlines()
    # the first frame's mouse2: every cell empty (4 header rows)
    cells = lines[4].split(',')
    half = (len(cells) - 3) // 2
    lines[4] = ','.join(cells[:3 + half] + [''] * half)
    with open(table, 'w') as file:
        file.write('\n'.join(lines) + '\n')
    result = import_labels(root, str(tmp_path / 'out'), base_config=TINY)
    assert [
        '1 x animal without labelled points: '
        'labeled-data/arena/img000.png: mouse2'
    ] == [line for line in result['skipped'] if 'animal without' in line]
    found = exported(result)
    assert len(found['labeled-data/arena/img000.png']) == 1
    assert len(found['labeled-data/arena/img001.png']) == 2


def test_sleap_file_with_video_frames(tmp_path):
    path = str(tmp_path / 'session1.slp')
    drawn = write_sleap_file(path, frames=5, animals=2, predicted_frames=2)
    out = str(tmp_path / 'out')
    result = import_labels(path, out, base_config=TINY)
    found = exported(result)
    assert len(found) == 5
    for truth in drawn:
        name = f'images/session1_frames/{int(truth.file_name):06d}.png'
        assert [k for k, _, _ in found[name]
                ] == [triplets(p) for p in labelled_animals(truth.points)]
        assert osp.isfile(osp.join(out, name))
    assert any('2 x frame with predictions only' in line
               for line in result['skipped'])
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(dict(from_file=result['metainfo']))
    # SLEAP's symmetry swaps the ears
    assert meta['flip_indices'] == [0, 2, 1, 3]
    assert meta['skeleton_links'] == [(0, 1), (0, 2), (1, 3)]


def test_metainfo_and_config_state_only_the_dataset(dlc_project, tmp_path):
    root, _ = dlc_project
    result = import_labels(root, str(tmp_path / 'out'), backbone='rn50')
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(dict(from_file=result['metainfo']))
    assert [meta['keypoint_id2name'][i] for i in range(4)] == MOUSE_PARTS
    assert meta['flip_indices'] == [0, 2, 1, 3]  # left_ear <-> right_ear
    assert meta['skeleton_links'] == [(0, 1), (0, 2), (1, 3)]
    np.testing.assert_allclose(meta['sigmas'], 0.025)
    config = result['config']
    assert osp.basename(config) == (
        'td-hm_promptpose-clip-rn50_8xb16-210e_mouse.py')
    with open(config) as file:
        base_line, = [line for line in file if line.startswith('_base_')]
    base, = ast.literal_eval(base_line.split('=', 1)[1].strip())
    assert osp.realpath(base) == osp.realpath(PAPER_RN50)
    cfg = Config.fromfile(config)
    assert cfg.label_import['box_mode'] == 'animal'
    assert cfg.label_import['padding'] == 0.25
    assert cfg.label_import['max_animals'] == 1
    assert cfg.label_import['animal_side'] > 0
    assert [e['type'] for e in cfg.val_evaluator
            ] == ['CocoMetric', 'PCKAccuracy', 'EPE']
    assert cfg.train_dataloader.dataset.ann_file == result['train']
    assert cfg.train_dataloader.batch_size == 16  # the paper config's
    cfg = apply_dataset_keypoints(cfg)
    assert cfg.model.head.out_channels == 4
    assert cfg.model.neck.num_keypoints == 4
    assert cfg.default_hooks.checkpoint.save_best == 'coco/AP'


def test_input_size_reaches_codec_model_and_pipelines(dlc_project, tmp_path):
    root, _ = dlc_project
    result = import_labels(
        root, str(tmp_path / 'out'), backbone='vit-b16', input_size=(192, 256))
    assert result['config'].endswith('_mouse-192x256.py')
    cfg = Config.fromfile(result['config'])
    assert cfg.model.backbone.type == 'CLIPVisionTransformer'
    assert tuple(cfg.model.backbone.input_size) == (192, 256)
    assert tuple(cfg.model.head.decoder.heatmap_size) == (48, 64)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[loader].dataset.pipeline
        sizes = [t['input_size'] for t in pipeline if 'input_size' in t]
        assert sizes and all(tuple(s) == (192, 256) for s in sizes)
    target, = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t['type'] == 'GenerateTarget'
    ]
    assert tuple(target['encoder']['input_size']) == (192, 256)
    with pytest.raises(ValueError, match='multiples of 32'):
        import_labels(root, str(tmp_path / 'x'), input_size=(200, 256))


def test_split_by_video_is_whole_and_deterministic(tmp_path):
    root = str(tmp_path / 'five')
    write_deeplabcut_project(root, {f'v{i}': 2 for i in range(5)})
    first = import_labels(root, str(tmp_path / 'a'), base_config=TINY, seed=7)
    again = import_labels(root, str(tmp_path / 'b'), base_config=TINY, seed=7)
    for split in ('train', 'val'):
        with open(first[split]) as a, open(again[split]) as b:
            assert json.load(a) == json.load(b)
    with open(first['val']) as file:
        val_videos = {
            image['file_name'].split('/')[1]
            for image in json.load(file)['images']
        }
    with open(first['train']) as file:
        train_videos = {
            image['file_name'].split('/')[1]
            for image in json.load(file)['images']
        }
    assert len(val_videos) == 1 and not val_videos & train_videos
    assert first['counts']['val']['videos'] == 1
    assert 'by video, seed 7' in first['label_import']['split']


def test_split_of_one_video_is_by_frame(tmp_path):
    root = str(tmp_path / 'one')
    write_deeplabcut_project(root, {'only': 10})
    result = import_labels(
        root, str(tmp_path / 'out'), base_config=TINY, val_fraction=0.3)
    assert (result['num_train'], result['num_val']) == (7, 3)
    every = import_labels(
        root, str(tmp_path / 'every'), base_config=TINY, val_every=5)
    with open(every['val']) as file:
        names = [i['file_name'] for i in json.load(file)['images']]
    assert names == [
        'labeled-data/only/img004.png', 'labeled-data/only/img009.png'
    ]


def test_frame_boxes_keep_the_animal_area(dlc_project, tmp_path):
    root, drawn = dlc_project
    animal = exported(
        import_labels(root, str(tmp_path / 'a'), base_config=TINY))
    whole = import_labels(
        root, str(tmp_path / 'f'), base_config=TINY, box_mode='frame')
    frame = exported(whole)
    for truth in drawn:
        (_, box_a, area_a), = animal[truth.file_name]
        (_, box_f, area_f), = frame[truth.file_name]
        assert box_f == [0.0, 0.0, 96.0, 80.0]
        points = truth.points[0][~np.isnan(truth.points[0]).any(-1)]
        side = max(np.ptp(points, axis=0).max(), 1.0) * 1.5
        assert box_a[2] == box_a[3] == pytest.approx(side)
        assert area_a == area_f == pytest.approx(side * side)
    cfg = Config.fromfile(whole['config'])
    assert cfg.label_import['box_mode'] == 'frame'
    assert cfg.label_import['padding'] is None


def test_bad_rows_are_skipped_and_counted(tmp_path):
    from PIL import Image
    root = str(tmp_path / 'messy')
    write_deeplabcut_project(root, {'v1': 6}, unlabelled=0.0)
    table = osp.join(root, 'labeled-data', 'v1', 'CollectedData_lab.csv')
    with open(table) as file:
        lines = file.read().splitlines()
    # row 0: its image is missing; row 1: not an image; row 2: no point;
    # row 3: a point outside the 96x80 image; row 4: a point with x only
    os.remove(osp.join(root, 'labeled-data', 'v1', 'img000.png'))
    with open(osp.join(root, 'labeled-data', 'v1', 'img001.png'), 'w') as f:
        f.write('not a png')
    cells = lines[5].split(',')
    lines[5] = ','.join(cells[:3] + [''] * (len(cells) - 3))
    cells = lines[6].split(',')
    cells[3:5] = ['500.0', '10.0']
    lines[6] = ','.join(cells)
    cells = lines[7].split(',')
    cells[6] = ''  # the second bodypart's y
    lines[7] = ','.join(cells)
    with open(table, 'w') as file:
        file.write('\n'.join(lines) + '\n')
    assert Image.open(osp.join(root, 'labeled-data', 'v1', 'img004.png'))
    result = import_labels(root, str(tmp_path / 'out'), base_config=TINY)
    text = result['text']
    assert '1 x missing image' in text and 'img000.png' in text
    assert '1 x unreadable image' in text and 'img001.png' in text
    assert '1 x frame without labelled points' in text
    assert '1 x point outside its image' in text and 'snout' in text
    assert '1 x point with one coordinate (unlabelled)' in text
    assert 'img004.png: the animal' in text
    assert result['num_train'] + result['num_val'] == 3
    found = exported(result)
    (keypoints, _, _), = found['labeled-data/v1/img003.png']
    assert keypoints[:3] == [0.0, 0.0, 0]  # the outside snout: unlabelled
    (keypoints, _, _), = found['labeled-data/v1/img004.png']
    assert keypoints[3:6] == [0.0, 0.0, 0]  # the half point: unlabelled
    assert keypoints[2] == 2 and keypoints[8] == 2  # its neighbours: kept


def test_bodyparts_that_differ_from_config_yaml(dlc_project, tmp_path):
    root, _ = dlc_project
    config = osp.join(root, 'config.yaml')
    with open(config) as file:
        text = file.read()
    with open(config, 'w') as file:
        file.write(text.replace('- tailbase', '- tail_tip'))
    with pytest.raises(LabelError) as error:
        import_labels(root, str(tmp_path / 'out'), base_config=TINY)
    message = str(error.value)
    assert 'CollectedData_lab.csv' in message and 'config.yaml' in message
    assert 'tailbase' in message and 'tail_tip' in message


def test_sleap_reimport_replaces_other_frames(tmp_path):
    """Importing a new labels file of the same name into the same folder
    pairs the new labels with the new frames, never with the old PNGs."""
    from PIL import Image
    out = str(tmp_path / 'out')
    first = tmp_path / 'a' / 'session1.slp'
    second = tmp_path / 'b' / 'session1.slp'
    for path, seed in ((first, 0), (second, 1)):
        path.parent.mkdir()
        write_sleap_file(str(path), frames=3, seed=seed)
    import_labels(str(first), out, base_config=TINY)
    name = osp.join(out, 'images', 'session1_frames', '000000.png')
    old = np.asarray(Image.open(name))
    import_labels(str(first), out, base_config=TINY)  # the same: verified
    stamp = os.stat(name).st_mtime_ns
    import_labels(str(first), out, base_config=TINY)
    assert os.stat(name).st_mtime_ns == stamp
    import_labels(str(second), out, base_config=TINY)
    new = np.asarray(Image.open(name))
    drawn = np.asarray(
        Image.open(tmp_path / 'b' / 'session1_frames' / 'frame000.png'))
    assert not np.array_equal(new, old)
    np.testing.assert_array_equal(new, drawn)


def test_sleap_file_without_labelled_frames(tmp_path):
    path = str(tmp_path / 'predictions.slp')
    write_sleap_file(path, frames=0, predicted_frames=3)
    with pytest.raises(LabelError, match='no user-labelled frames'):
        import_labels(path, str(tmp_path / 'out'), base_config=TINY)


def test_not_a_label_source(tmp_path):
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(ValueError, match='DeepLabCut project folder'):
        import_labels(
            str(tmp_path / 'notes.txt'), str(tmp_path / 'o'), base_config=TINY)
    with pytest.raises(FileNotFoundError, match='no config.yaml'):
        import_labels(str(tmp_path), str(tmp_path / 'o'), base_config=TINY)


def test_command_line_prints_the_summary(dlc_project, tmp_path, capsys):
    """The tool's main, in this process (run.sh runs it as a command in
    test_project_example_runs)."""
    tool = load_tool('dataset_converters/import_labels.py')
    root, _ = dlc_project
    tool.main(
        [root,
         str(tmp_path / 'out'), '--base-config', TINY, '--box', 'frame'])
    out = capsys.readouterr().out
    assert 'split   videos  frames  instances  points' in out
    assert 'train: mim train mmpose' in out
    with pytest.raises(SystemExit) as error:
        tool.main([str(tmp_path / 'missing'), str(tmp_path / 'o')])
    message = str(error.value.code)
    assert message.startswith('error: ') and 'missing' in message
    assert 'does not exist' in message


@pytest.mark.slow
def test_project_example_runs(tmp_path, mim):
    """projects/own_labels_example/run.sh, the README's two commands on the
    bundled DeepLabCut project: import, a short mim train (evaluated with
    AP, PCK and EPE, the best checkpoint kept); mim test reads it."""
    import subprocess
    import sys
    env = dict(
        os.environ,
        OUT=str(tmp_path),
        PY=sys.executable,
        EPOCHS='1',
        VAL_INTERVAL='1')
    proc = subprocess.run(
        ['bash',
         osp.join(ROOT, 'projects', 'own_labels_example', 'run.sh')],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert 'train        1       4          4' in output
    for metric in ('coco/AP', 'PCK', 'EPE'):
        assert metric in output
    best = [n for n in os.listdir(tmp_path / 'train') if n.startswith('best_')]
    assert best
    [config] = [
        n for n in os.listdir(tmp_path / 'data')
        if n.endswith('.py') and n != 'metainfo.py'
    ]
    output = mim(
        'test',
        'mmpose',
        str(tmp_path / 'data' / config),
        '--checkpoint',
        str(tmp_path / 'train' / best[0]),
        '--work-dir',
        str(tmp_path / 'test'),
        cwd=str(tmp_path))
    assert 'coco/AP' in output and 'EPE' in output


def test_the_animal_scale_is_the_median_padded_side():
    """Sides by hand: extents 10, 20 and 40 px padded 0.25 a side give
    15, 30 and 60; the median is 30. An all-NaN animal is not counted."""
    from promptpose_mm.annotations.importer import animal_scale
    from promptpose_mm.io.labels import LabelledFrame
    nan = np.full((2, 2), np.nan)
    frames = [
        LabelledFrame('a.png', 100, 100,
                      np.array([[[0, 0], [10, 5]], [[0, 0], [5, 20]]], float)),
        LabelledFrame('b.png', 100, 100,
                      np.array([[[0, 0], [40, 40]], nan, nan], float)),
    ]
    assert animal_scale(frames, 0.25) == dict(animal_side=30.0, max_animals=2)
    assert animal_scale(frames, 0.0) == dict(animal_side=20.0, max_animals=2)
    assert animal_scale([], 0.25) == dict(animal_side=None, max_animals=0)


def test_the_animal_names_in_the_order_first_seen():
    from promptpose_mm.annotations.importer import animal_names
    from promptpose_mm.io.labels import LabelledFrame
    two = np.zeros((2, 1, 2))
    frames = [
        LabelledFrame('a.png', 9, 9, two, tracks=('male', '')),
        LabelledFrame('b.png', 9, 9, two, tracks=('female', 'male')),
    ]
    assert animal_names(frames) == ['male', 'female']
    assert animal_names([LabelledFrame('c.png', 9, 9, two,
                                       tracks=('', ''))]) is None
