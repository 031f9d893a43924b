"""Our prediction files as a lab's analysis reads them: movement's loaders,
with their defaults, give back the predicted values.

movement reads DeepLabCut columns by position and fills a missing
likelihood with NaN, so each check compares the values it gets back
(positions, confidences, keypoint names, individual names, frame rate),
not only that the file opens.
"""
import os.path as osp

import numpy as np
import pytest

from promptpose_mm.io.poses import VideoPoses, write_poses

movement_io = pytest.importorskip('movement.io')

FPS = 30.0
PARTS = ['nose', 'left ear', 'tail base']
FRAMES = 7


def _poses(video: str, animals: int) -> VideoPoses:
    """Predictions with a frame where the first animal was lost (NaN) and a
    low-confidence point."""
    rng = np.random.default_rng(animals)
    keypoints = rng.uniform(3, 120, (FRAMES, animals, len(PARTS), 2))
    scores = rng.uniform(0.5, 1, (FRAMES, animals, len(PARTS)))
    keypoints[2, 0] = np.nan
    scores[2, 0] = np.nan
    scores[4, animals - 1, 1] = 0.02
    return VideoPoses(video, keypoints, scores, PARTS, [('nose', 'left ear'),
                                                        ('nose', 'tail base')],
                      FPS)


def _values(dataset):
    """``(T, N, K, 2)`` positions and ``(T, N, K)`` confidences of a
    movement dataset, keypoints in our order."""
    dataset = dataset.sel(keypoints=PARTS)
    return (dataset.position.transpose('time', 'individuals', 'keypoints',
                                       'space').values,
            dataset.confidence.transpose('time', 'individuals',
                                         'keypoints').values)


def _assert_same(dataset, poses, individuals, fps=FPS):
    assert sorted(dataset.keypoints.values.tolist()) == sorted(PARTS)
    assert dataset.individuals.values.tolist() == individuals
    assert dataset.attrs['fps'] == fps
    assert dataset.time.size == FRAMES
    position, confidence = _values(dataset)
    np.testing.assert_allclose(position, poses.keypoints, atol=1e-4)
    np.testing.assert_allclose(confidence, poses.scores, atol=1e-6)
    # the lost frame stays NaN, the doubtful point keeps its score
    assert np.isnan(position[2, 0]).all()
    assert confidence[4, -1, 1] == pytest.approx(0.02)


@pytest.mark.parametrize('animals', [1, 2])
def test_movement_reads_back_every_format(tmp_path, animals):
    import xarray as xr
    from movement.io import load_dataset
    poses = _poses(str(tmp_path / 'walk.avi'), animals)
    stem = str(tmp_path / 'walkDLC_PromptPose')
    written = write_poses(poses, stem,
                          ('dlc-h5', 'dlc-csv', 'slp', 'analysis-h5', 'nwb'))
    names = ['animal1', 'animal2'][:animals]
    # DeepLabCut: one animal is a single-animal table, which movement names
    # individual_0; the frame rate is not in the file
    table = stem + ('_el' if animals > 1 else '')
    for suffix in ('.h5', '.csv'):
        dataset = load_dataset(
            table + suffix, source_software='DeepLabCut', fps=FPS)
        _assert_same(dataset, poses,
                     names if animals > 1 else ['individual_0'])
    for suffix in ('.slp', '.analysis.h5'):
        dataset = load_dataset(stem + suffix, source_software='SLEAP', fps=FPS)
        _assert_same(dataset, poses, names)
    # NWB: one file per animal, each loaded with movement's defaults under
    # its own name, the frame rate from the file
    nwb = [path for path in written if path.endswith('.nwb')]
    assert nwb == ([stem + '.nwb'] if animals == 1 else
                   [f'{stem}_{name}.nwb' for name in names])
    datasets = [load_dataset(path, source_software='NWB') for path in nwb]
    assert [d.individuals.values.tolist()
            for d in datasets] == [[name] for name in names]
    _assert_same(xr.merge(datasets), poses, names)


def test_nwb_holds_what_ndx_pose_readers_expect(tmp_path):
    import pynwb
    from ndx_pose import PoseEstimation, Skeletons

    from promptpose_mm import __version__
    video = str(tmp_path / 'walk.avi')
    poses = _poses(video, 2)._replace(scorer='fly-model')
    files = write_poses(poses, str(tmp_path / 'walk'), ('nwb', ))
    assert [osp.basename(f)
            for f in files] == ['walk_animal1.nwb', 'walk_animal2.nwb']
    for n, path in enumerate(files):
        name = f'animal{n + 1}'
        with pynwb.NWBHDF5IO(path, 'r') as io:
            nwbfile = io.read()
            assert nwbfile.identifier == name
            assert nwbfile.subject.subject_id == name
            behavior = nwbfile.processing['behavior']
            skeletons = behavior['Skeletons']
            estimation = behavior['PoseEstimation']
            assert isinstance(skeletons, Skeletons)
            assert isinstance(estimation, PoseEstimation)
            skeleton = skeletons.skeletons[f'{name}_skeleton']
            assert skeleton.subject.subject_id == name
            assert list(skeleton.nodes[:]) == PARTS
            np.testing.assert_array_equal(skeleton.edges[:], [[0, 1], [0, 2]])
            assert estimation.skeleton.name == skeleton.name
            assert estimation.scorer == 'fly-model'
            assert estimation.source_software == 'promptpose_mm'
            assert estimation.source_software_version == __version__
            assert list(estimation.original_videos[:]) == [video]
            assert list(estimation.devices)[0].name == 'camera'
            assert estimation.source_video.external_file[:].tolist() == [video]
            assert list(estimation.pose_estimation_series) == sorted(PARTS)
            for k, part in enumerate(PARTS):
                series = estimation.pose_estimation_series[part]
                assert series.rate == FPS
                assert series.unit == 'pixels'
                np.testing.assert_array_equal(series.data[:],
                                              poses.keypoints[:, n, k])
                np.testing.assert_array_equal(series.confidence[:],
                                              poses.scores[:, n, k])


def test_nwb_without_a_frame_rate_counts_frames(tmp_path):
    """A video of unknown rate: frame numbers as timestamps (not a made-up
    rate), which movement reads as one frame per second."""
    from movement.io import load_dataset
    poses = _poses(str(tmp_path / 'walk.avi'), 1)._replace(fps=0.0)
    (path, ) = write_poses(poses, str(tmp_path / 'walk'), ('nwb', ))
    dataset = load_dataset(path, source_software='NWB')
    np.testing.assert_array_equal(dataset.time.values, np.arange(FRAMES))
    _assert_same(dataset, poses, ['animal1'], fps=1.0)


def test_animal_names_reach_every_reader(tmp_path):
    """Named animals (the project's individuals or tracks) are the
    DeepLabCut individuals, SLEAP tracks and NWB subjects movement gets."""
    import xarray as xr
    from movement.io import load_dataset
    poses = _poses(str(tmp_path / 'walk.avi'),
                   2)._replace(animal_names=['female', 'male'])
    stem = str(tmp_path / 'walkDLC_PromptPose')
    written = write_poses(poses, stem, ('dlc-h5', 'slp', 'nwb'))
    nwb = [stem + '_female.nwb', stem + '_male.nwb']
    assert [path for path in written if path.endswith('.nwb')] == nwb
    names = ['female', 'male']
    _assert_same(
        load_dataset(stem + '_el.h5', source_software='DeepLabCut', fps=FPS),
        poses, names)
    _assert_same(
        load_dataset(stem + '.slp', source_software='SLEAP', fps=FPS), poses,
        names)
    _assert_same(
        xr.merge([load_dataset(path, source_software='NWB') for path in nwb]),
        poses, names)
    for wrong in (['female'], ['female', 'female'], ['female', '']):
        with pytest.raises(ValueError, match='one distinct name per slot'):
            poses._replace(animal_names=wrong).individuals
