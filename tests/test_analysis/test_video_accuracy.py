"""Video poses against ground-truth labels: matching, errors, identity
swaps, the found share and the table (hand-computed numbers, no model),
and the argument checks of ``tools/analysis/video_against_labels.py``."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest

from promptpose_mm.analysis.video_accuracy import (TrackComparison,
                                                   compare_tracks,
                                                   format_accuracy_table,
                                                   match_animals)
from tests.paths import REACHING, load_tool

NAN = np.nan
# two animals of two keypoints, far apart
ANIMAL_A = np.array([[10.0, 10.0], [20.0, 10.0]])
ANIMAL_B = np.array([[100.0, 100.0], [110.0, 100.0]])


def test_matching_follows_the_points_not_the_order():
    pred = np.stack([ANIMAL_A + 1, ANIMAL_B - 2])
    truth = np.stack([ANIMAL_B, ANIMAL_A])
    assert match_animals(pred, truth) == [(0, 1), (1, 0)]


def test_an_all_nan_slot_is_not_matched():
    pred = np.stack([np.full((2, 2), NAN), ANIMAL_B + 3])
    # the empty slot is listed first; two labelled animals, one slot left
    truth = np.stack([ANIMAL_A, ANIMAL_B])
    assert match_animals(pred, truth) == [(1, 1)]
    # a slot whose points are all where the animal is unlabelled
    pred = np.array([[[NAN, NAN], [20.0, 10.0]]])
    truth = np.array([[[10.0, 10.0], [NAN, NAN]]])
    assert match_animals(pred, truth) == []


def test_matching_prefers_more_pairs_to_a_smaller_distance():
    # slot 0 is nearest to animal 0, but only slot 0 can reach animal 1
    pred = np.array([[[0.0, 0.0], [0.0, 0.0]], [[30.0, 0.0], [NAN, NAN]]])
    truth = np.array([[[1.0, 0.0], [NAN, NAN]], [[NAN, NAN], [50.0, 0.0]]])
    assert match_animals(pred, truth) == [(0, 1), (1, 0)]


def test_errors_are_the_hand_computed_distances():
    pred = np.array([[[[13.0, 14.0], [26.0, 18.0], [5.0, 5.0]]]])
    truth = np.array([[[[10.0, 10.0], [20.0, 10.0], [NAN, NAN]]]])
    result = compare_tracks(pred, truth, found_px=100)
    # (3, 4) -> 5 and (6, 8) -> 10; the unlabelled third point is no error
    np.testing.assert_allclose(np.sort(result.errors), [5.0, 10.0])
    assert result.median == pytest.approx(7.5)
    assert result.within(5) == pytest.approx(0.5)
    assert result.over(5) == pytest.approx(0.5)
    assert result.within(10) == pytest.approx(1.0)
    assert (result.frames, result.animal_frames, result.found) == (1, 1, 1)


def _two_animals(frames: int = 6) -> np.ndarray:
    """``(T, 2, 2, 2)``: the two animals standing still."""
    return np.stack([np.stack([ANIMAL_A, ANIMAL_B])] * frames)


def test_a_swap_in_the_middle_is_one_swap_and_two_id_switches():
    truth = _two_animals()
    pred = truth + 1.0
    pred[3:] = pred[3:, ::-1]  # the slots exchange animals from frame 3
    result = compare_tracks(pred, truth, found_px=5)
    assert result.swaps == 1
    assert result.id_switches == 2
    assert (result.frames, result.animal_frames, result.found) == (6, 12, 12)
    np.testing.assert_array_equal(result.slots[:, 0], [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(result.slots[:, 1], [1, 1, 1, 0, 0, 0])
    np.testing.assert_allclose(result.errors, np.sqrt(2.0))


def test_a_lost_frame_is_not_a_swap():
    truth = _two_animals()
    pred = truth + 1.0
    pred[2, 0] = NAN  # animal A lost at frame 2, back in its slot at 3
    result = compare_tracks(pred, truth, found_px=5)
    assert (result.swaps, result.id_switches) == (0, 0)
    assert result.found == 11
    assert result.found_share == pytest.approx(11 / 12)
    assert result.slots[2, 0] == -1
    # back in another slot after the lost frame: one switch of one animal
    pred = np.concatenate([pred, np.full((6, 1, 2, 2), NAN)], axis=1)
    pred[3:, 2] = pred[3:, 0].copy()
    pred[3:, 0] = NAN
    result = compare_tracks(pred, truth, found_px=5)
    assert (result.swaps, result.id_switches) == (1, 1)
    np.testing.assert_array_equal(result.slots[:, 0], [0, 0, -1, 2, 2, 2])


def test_unlabelled_frames_are_not_counted():
    truth = _two_animals(3)
    truth[1] = NAN  # an unlabelled frame
    truth[2, 1, 0] = NAN  # one labelled point left of animal B
    result = compare_tracks(truth + 1.0, truth, found_px=5)
    assert (result.frames, result.animal_frames, result.found) == (2, 4, 4)
    assert len(result.errors) == 7


def test_found_share_with_a_scalar_and_per_animal_limit():
    truth = _two_animals(2)
    pred = truth.copy()
    pred[:, 0] += [3.0, 4.0]  # animal A: mean error 5
    pred[:, 1] += [6.0, 8.0]  # animal B: mean error 10
    assert compare_tracks(pred, truth, 4.9).found == 0
    assert compare_tracks(pred, truth, 5.0).found == 2
    assert compare_tracks(pred, truth, 10.0).found == 4
    # one limit per frame and animal: B's 12 at frame 0 only
    limits = np.array([[4.0, 12.0], [5.0, 9.0]])
    result = compare_tracks(pred, truth, limits)
    assert (result.found, result.animal_frames) == (2, 4)
    assert result.found_share == pytest.approx(0.5)
    np.testing.assert_array_equal(result.slots, [[-1, 1], [0, -1]])
    np.testing.assert_allclose(np.sort(result.errors), [5, 5, 10, 10])
    # one limit per animal broadcasts over the frames
    assert compare_tracks(pred, truth, np.array([5.0, 9.0])).found == 2
    with pytest.raises(ValueError, match='found_px'):
        compare_tracks(pred, truth, np.ones(3))


def test_shapes_are_checked():
    with pytest.raises(ValueError, match='same frames'):
        compare_tracks(np.zeros((5, 1, 2, 2)), np.zeros((6, 1, 2, 2)), 1)


def test_the_table_holds_the_numbers():
    video = TrackComparison(
        errors=np.array([2.0, 5.0, 10.0, 60.0]),
        frames=3,
        animal_frames=4,
        found=3,
        swaps=1,
        id_switches=2,
        slots=np.zeros((3, 2), dtype=int))
    boxes = video._replace(
        errors=np.array([1.0, 3.0]), found=4, swaps=0, id_switches=0)
    table = format_accuracy_table({
        'video tool (defaults)': video,
        'ground-truth boxes': boxes
    })
    lines = table.splitlines()
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    assert header == [
        'run', 'frames', 'animals found %', 'median error px',
        'within 10 px %', 'over 50 px %', 'identity swaps'
    ]
    assert set(lines[1]) == {'|', '-'}
    rows = [[cell.strip() for cell in line.strip('|').split('|')]
            for line in lines[2:]]
    assert rows == [
        ['video tool (defaults)', '3', '75.0', '7.5', '75.0', '25.0', '1'],
        ['ground-truth boxes', '3', '100.0', '2.0', '100.0', '0.0', '0'],
    ]
    empty = video._replace(errors=np.zeros(0), found=0, animal_frames=0)
    assert '| -' in format_accuracy_table({'none': empty})


# the tool's argument checks (no model runs)
@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis/video_against_labels.py')


@pytest.mark.parametrize('text, expected',
                         [('10:50', (10, 50)), ('0:1', (0, 1)),
                          ('7:', (7, None)), (':20', (0, 20)),
                          (':', (0, None))])
def test_frames_option_is_parsed(tool, text, expected):
    assert tool.frame_range(text) == expected


@pytest.mark.parametrize('text', ['5:5', '9:3', '-1:4', 'a:b', '12', '1:2:3'])
def test_bad_frames_option_is_a_usage_error(tool, text, capsys):
    with pytest.raises(SystemExit) as stop:
        tool.parse_args([
            'labels.slp', '--config', 'c.py', '--checkpoint', 'k.pth',
            '--frames', text
        ])
    assert stop.value.code == 2
    assert '--frames' in capsys.readouterr().err


def test_missing_labels_name_the_file(tool, tmp_path):
    missing = str(tmp_path / 'session.slp')
    with pytest.raises(SystemExit) as stop:
        tool.main([missing, '--config', 'c.py', '--checkpoint', 'k.pth'])
    assert str(stop.value).startswith('error: ')
    assert missing in str(stop.value)


def test_padding_zero_is_kept(tool):
    assert tool.box_padding(dict(label_import=dict(padding=0.4)), 0.0) == 0.0
    assert tool.box_padding(dict(label_import=dict(padding=0.0)), None) == 0.0
    assert tool.box_padding(dict(label_import=dict(padding=0.4)), None) == 0.4
    assert tool.box_padding(dict(), None) == 0.25


def test_deeplabcut_frames_become_a_video(tool, tmp_path):
    """The bundled project's folder (frames of two sizes) as a lossless
    video, with its labels at the right frames, and a --frames cut."""
    from promptpose_mm.apis.video import open_video
    from promptpose_mm.io.deeplabcut import read_deeplabcut_project
    project = read_deeplabcut_project(REACHING)
    truth = tool.load_truth(REACHING, None, None, None, str(tmp_path))
    assert len(truth.points) == len(project.frames) == 5
    np.testing.assert_array_equal(truth.points[:, 0],
                                  [f.instances[0] for f in project.frames])
    assert len(open_video(truth.video)) == 5
    # the written file, read without sleap-io (whose grey-frame guess
    # compares only the first and last channel)
    import imageio_ffmpeg
    from PIL import Image
    reader = imageio_ffmpeg.read_frames(truth.video)
    width, height = next(reader)['size']
    assert (width, height) == (max(f.width for f in project.frames),
                               max(f.height for f in project.frames))
    for frame, data in zip(project.frames, reader):
        image = np.frombuffer(data, np.uint8).reshape(height, width, 3)
        png = np.asarray(
            Image.open(osp.join(REACHING, frame.file_name)).convert('RGB'))
        np.testing.assert_array_equal(image[:frame.height, :frame.width], png)
        assert not image[frame.height:].any()
        assert not image[:, frame.width:].any()
    cut = tool.load_truth(REACHING, None, None, (1, 3), str(tmp_path))
    np.testing.assert_array_equal(cut.points, truth.points[1:3])
    assert len(open_video(cut.video)) == 2
    with pytest.raises(SystemExit, match='5 frames'):
        tool.load_truth(REACHING, None, None, (3, 9), str(tmp_path))
    with pytest.raises(SystemExit, match='reachingvideo1'):
        tool.load_truth(REACHING, None, 'nosuchfolder', None, str(tmp_path))


def test_sleap_labels_give_tracks_in_file_order(tool, tmp_path):
    """Two tracked mice on an image sequence: written as a video, each
    track's points at its frame; a cut shifts the frames; a missing video
    or range names the fix."""
    from promptpose_mm.apis.video import open_video
    from promptpose_mm.testing.label_projects import (MOUSE_PARTS,
                                                      write_animal_video,
                                                      write_sleap_file)
    path = str(tmp_path / 'mice.slp')
    drawn = write_sleap_file(path, frames=4, animals=2)
    work = str(tmp_path / 'work')
    os.makedirs(work)
    truth = tool.load_truth(path, None, None, None, work)
    assert truth.animals == ['mouse1', 'mouse2']
    assert truth.bodyparts == MOUSE_PARTS
    np.testing.assert_array_equal(truth.points,
                                  np.stack([frame.points for frame in drawn]))
    assert len(open_video(truth.video)) == 4
    cut = tool.load_truth(path, None, None, (1, 3), work)
    np.testing.assert_array_equal(cut.points, truth.points[1:3])
    assert (cut.start, len(open_video(cut.video))) == (1, 2)
    with pytest.raises(SystemExit, match='has 4 frames'):
        tool.load_truth(path, None, None, (2, 5), work)
    missing = str(tmp_path / 'session.mp4')
    with pytest.raises(SystemExit, match='session.mp4 does not exist'):
        tool.load_truth(path, missing, None, None, work)
    # --video: a video file is analysed as it is; one too short is named
    longer, short = str(tmp_path / 'long.avi'), str(tmp_path / 'short.avi')
    write_animal_video(longer, frames=6, size=(96, 80))
    given = tool.load_truth(path, longer, None, None, work)
    assert (given.video, given.points.shape) == (longer, (6, 2, 4, 2))
    np.testing.assert_array_equal(given.points[:4], truth.points)
    assert np.isnan(given.points[4:]).all()
    write_animal_video(short, frames=2, size=(96, 80))
    with pytest.raises(SystemExit, match='labels frame 2, but .*short.avi'):
        tool.load_truth(path, short, None, None, work)
    shutil.rmtree(str(tmp_path / 'mice_frames'))
    with pytest.raises(SystemExit, match='--video PATH'):
        tool.load_truth(path, None, None, None, work)
