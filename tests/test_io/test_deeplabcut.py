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
    for path in files:
        got_points, got_scores = read_deeplabcut_predictions(path)
        np.testing.assert_array_equal(got_points, points)
        np.testing.assert_array_equal(got_scores, scores)
    with pytest.raises(ValueError, match='unknown output formats'):
        write_poses(poses, str(tmp_path / 'x'), ['mat'])
