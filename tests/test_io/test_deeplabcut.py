"""DeepLabCut's files (``io.deeplabcut``): a project's label tables, and
the analysis table of predictions written and read back.

The projects are written by promptpose_mm.testing.label_projects in
DeepLabCut's own formats (tables by pandas) with drawn animals whose exact
points are known.
"""
import os
import os.path as osp

import numpy as np
import pytest

from promptpose_mm.io import LabelError
from promptpose_mm.io.deeplabcut import (deeplabcut_table,
                                         read_deeplabcut_predictions,
                                         read_deeplabcut_project,
                                         read_label_table)
from promptpose_mm.io.poses import VideoPoses, write_poses
from promptpose_mm.testing.label_projects import (MOUSE_PARTS,
                                                  write_deeplabcut_project)


def test_h5_twin_reads_as_the_csv(tmp_path):
    root = str(tmp_path / 'both')
    drawn = write_deeplabcut_project(root, {'v1': 3}, table_format='both')
    table = osp.join(root, 'labeled-data', 'v1', 'CollectedData_lab')
    from_csv = read_label_table(table + '.csv')
    from_h5 = read_label_table(table + '.h5')
    assert list(from_csv.index) == list(from_h5.index)
    assert list(from_csv.columns) == list(from_h5.columns)
    np.testing.assert_array_equal(from_csv.to_numpy(), from_h5.to_numpy())
    os.remove(table + '.csv')  # the .h5 alone
    labels = read_deeplabcut_project(root)
    for frame, truth in zip(labels.frames, drawn):
        np.testing.assert_array_equal(frame.instances, truth.points)


def test_duplicated_frame_is_an_error(tmp_path):
    root = str(tmp_path / 'dup')
    write_deeplabcut_project(root, {'v1': 3})
    table = osp.join(root, 'labeled-data', 'v1', 'CollectedData_lab.csv')
    with open(table) as file:
        lines = file.read().splitlines()
    with open(table, 'w') as file:
        file.write('\n'.join(lines + [lines[-1]]) + '\n')
    with pytest.raises(LabelError, match='more than once.*img002.png'):
        read_deeplabcut_project(root)


def test_deeplabcut_table_layout_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 90, (5, 2, 4, 2))
    scores = rng.uniform(0, 1, (5, 2, 4))
    points[2, 1] = np.nan  # no second animal on frame 2
    scores[2, 1] = np.nan
    poses = VideoPoses('v.avi', points, scores, MOUSE_PARTS, [], 10.0, 'pp')
    table = deeplabcut_table(poses)
    assert table.columns.names == [
        'scorer', 'individuals', 'bodyparts', 'coords'
    ]
    assert table[('pp', 'animal1', 'snout', 'likelihood')].tolist() == \
        scores[:, 0, 0].tolist()
    files = write_poses(poses, str(tmp_path / 'vpp'), ['dlc-h5', 'dlc-csv'])
    stem = str(tmp_path / 'vpp')
    assert files == [stem + '_el.h5', stem + '_el.csv', stem + '_meta.pickle']
    for path in files[:2]:
        got_points, got_scores = read_deeplabcut_predictions(path)
        np.testing.assert_array_equal(got_points, points)
        np.testing.assert_array_equal(got_scores, scores)
    with pytest.raises(ValueError, match='unknown output formats'):
        write_poses(poses, str(tmp_path / 'x'), ['mat'])


def test_predictions_named_and_laid_out_as_deeplabcut_writes_them(tmp_path):
    """As DeepLabCut 3's ``analyze_videos`` (``create_df_from_prediction``,
    ``_generate_metadata``) and its tracker (``stitch_tracklets``) write
    them: file names, HDF5 keys, header rows, index and metadata."""
    import pandas as pd
    rng = np.random.default_rng(1)
    one = VideoPoses(
        str(tmp_path / 'cage3.mp4'),
        rng.uniform(0, 90, (4, 1, 2, 2)),
        rng.uniform(0, 1, (4, 1, 2)), ['snout', 'tail'], [],
        25.0,
        'DLC_PromptPose',
        frame_size=(640, 480),
        run=dict(start=100.0, stop=112.5, batch_size=16, config='c.py'))
    stem = str(tmp_path / 'cage3DLC_PromptPose')
    files = write_poses(one, stem, ['dlc-h5', 'dlc-csv'])
    assert files == [stem + '.h5', stem + '.csv', stem + '_meta.pickle']
    table = pd.read_hdf(stem + '.h5', 'df_with_missing')
    assert table.columns.names == ['scorer', 'bodyparts', 'coords']
    assert list(table.columns) == [('DLC_PromptPose', part, coord)
                                   for part in ('snout', 'tail')
                                   for coord in ('x', 'y', 'likelihood')]
    assert table.index.tolist() == [0, 1, 2, 3] and table.index.name is None
    with pd.HDFStore(stem + '.h5') as store:  # PyTables' table format
        assert store.get_storer('df_with_missing').is_table
    with open(stem + '.csv') as file:
        header = [next(file).rstrip('\n') for _ in range(4)]
    assert header[:3] == [
        'scorer,' + ','.join(['DLC_PromptPose'] * 6),
        'bodyparts,snout,snout,snout,tail,tail,tail',
        'coords,x,y,likelihood,x,y,likelihood',
    ]
    assert header[3].split(',')[0] == '0'
    meta = pd.read_pickle(stem + '_meta.pickle')
    assert set(meta) == {'data'}
    assert set(meta['data']) == {
        'start', 'stop', 'run_duration', 'Scorer', 'pytorch-config', 'fps',
        'batch_size', 'frame_dimensions', 'nframes',
        'iteration (active-learning)', 'training set fraction', 'cropping',
        'cropping_parameters', 'individuals', 'bodyparts', 'unique_bodyparts'
    }
    data = meta['data']
    assert data['frame_dimensions'] == (640, 480)
    assert data['cropping'] is False
    assert data['cropping_parameters'] == [0, 640, 0, 480]
    assert (data['nframes'], data['fps'], data['batch_size']) == (4, 25.0, 16)
    assert data['run_duration'] == 12.5
    assert data['bodyparts'] == ['snout', 'tail']
    assert data['individuals'] == ['animal1']
    # several animals: the tracked table's name, the individuals level
    two = one._replace(
        keypoints=rng.uniform(0, 90, (4, 2, 2, 2)),
        scores=rng.uniform(0, 1, (4, 2, 2)))
    files = write_poses(two, stem, ['dlc-h5', 'dlc-csv'])
    assert files == [stem + '_el.h5', stem + '_el.csv', stem + '_meta.pickle']
    table = pd.read_hdf(stem + '_el.h5', 'df_with_missing')
    assert table.columns.names == [
        'scorer', 'individuals', 'bodyparts', 'coords'
    ]
    assert table.columns.get_level_values('individuals').unique().tolist() == [
        'animal1', 'animal2'
    ]
    with open(stem + '_el.csv') as file:
        assert next(file).startswith('scorer,DLC_PromptPose')
        assert next(file).startswith('individuals,animal1,animal1')
