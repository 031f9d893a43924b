"""Predictions written as NWB (Neurodata Without Borders) files.

:func:`write_nwb` writes a video's predicted poses (a
:class:`~.poses.VideoPoses`) with ndx-pose, laid out as ndx-pose and its
readers (movement, NWB Widgets) expect them:

- one file per animal, as NWB holds one subject per file: the file's
  ``identifier`` and its :class:`pynwb.file.Subject` are the animal's name
  (``animal1``, ...); one animal's file is the path asked for, several
  animals' files add ``_<animal>`` to its stem;
- ``processing['behavior']`` holds ``Skeletons`` (the animal's skeleton,
  linked to its subject) and a ``PoseEstimation`` named ``PoseEstimation``
  (the name readers look for), with one ``PoseEstimationSeries`` per
  keypoint: ``(T, 2)`` pixel coordinates (NaN where the animal was not
  found), the keypoint scores as confidence, and the video's frame rate;
- the scorer, ``source_software='promptpose_mm'`` and its version, the
  camera as a device and the analysed video as an external
  ``ImageSeries`` (``acquisition['source_video']``).

So movement loads each file with its defaults
(``load_dataset(path, source_software='NWB')``), each animal under its own
name, and ``xarray.merge`` joins the animals.
"""
import datetime
import os.path as osp
from importlib.metadata import version
from typing import List

import numpy as np

from .atomic import atomic_write
from .poses import VideoPoses

REFERENCE_FRAME = ('(0, 0) is the top-left corner of the video frame; x to '
                   'the right, y down, in pixels')
CONFIDENCE = ('the keypoint score of promptpose_mm: the peak of its heatmap, '
              'about 0 (not seen) to 1 (sure)')


def nwb_paths(path: str, individuals: List[str]) -> List[str]:
    """The files :func:`write_nwb` writes for ``individuals``: ``path`` for
    one animal, ``<stem>_<animal>.nwb`` for each of several."""
    if len(individuals) == 1:
        return [path]
    stem = path[:-len('.nwb')] if path.endswith('.nwb') else path
    return [f'{stem}_{name}.nwb' for name in individuals]


def _session_start(video: str) -> datetime.datetime:
    """The video file's modification time (UTC), or the epoch when the file
    is not there: NWB needs a start time, and the video's is the closest
    one known."""
    stamp = osp.getmtime(video) if osp.exists(video) else 0.0
    return datetime.datetime.fromtimestamp(stamp, tz=datetime.timezone.utc)


def _animal_file(poses: VideoPoses, n: int):
    """The :class:`pynwb.NWBFile` of animal slot ``n`` of ``poses``."""
    import ndx_pose
    import pynwb
    from pynwb.image import ImageSeries

    name = poses.individuals[n]
    frames = poses.keypoints.shape[0]
    nwbfile = pynwb.NWBFile(
        session_description=(f'{name}: keypoints predicted by '
                             f'promptpose_mm on {osp.basename(poses.video)}'),
        identifier=name,
        session_start_time=_session_start(poses.video),
        subject=pynwb.file.Subject(
            subject_id=name, description=f'{name} of the video'))
    camera = nwbfile.create_device(
        name='camera', description=f'the camera that recorded {poses.video}')
    # frame times: the video's rate, or frame numbers when it is unknown
    timing = (
        dict(rate=float(poses.fps), starting_time=0.0) if poses.fps > 0 else
        dict(timestamps=np.arange(frames, dtype=np.float64)))
    video = ImageSeries(
        name='source_video',
        description='the analysed video',
        unit='n.a.',
        external_file=[poses.video],
        format='external',
        starting_frame=[0],
        num_samples=frames,
        device=camera,
        **timing)
    nwbfile.add_acquisition(video)
    index = {part: k for k, part in enumerate(poses.bodyparts)}
    skeleton = ndx_pose.Skeleton(
        name=f'{name}_skeleton',
        nodes=list(poses.bodyparts),
        edges=np.array([[index[a], index[b]] for a, b in poses.skeleton],
                       dtype=np.uint8).reshape(-1, 2),
        subject=nwbfile.subject)
    series = [
        ndx_pose.PoseEstimationSeries(
            name=part,
            description=f'{part} of {name}',
            data=poses.keypoints[:, n, k].astype(np.float64),
            unit='pixels',
            reference_frame=REFERENCE_FRAME,
            confidence=poses.scores[:, n, k].astype(np.float64),
            confidence_definition=CONFIDENCE,
            **timing) for k, part in enumerate(poses.bodyparts)
    ]
    estimation = ndx_pose.PoseEstimation(
        name='PoseEstimation',
        pose_estimation_series=series,
        description=f'{name}: keypoints predicted on every frame of '
        f'{osp.basename(poses.video)}; NaN where the animal was not found',
        original_videos=[poses.video],
        devices=[camera],
        scorer=poses.scorer,
        source_software='promptpose_mm',
        source_software_version=version('promptpose_mm'),
        skeleton=skeleton,
        source_video=video)
    behavior = nwbfile.create_processing_module(
        name='behavior', description='pose estimates of promptpose_mm')
    behavior.add(ndx_pose.Skeletons(skeletons=[skeleton]))
    behavior.add(estimation)
    return nwbfile


def write_nwb(poses: VideoPoses, path: str) -> List[str]:
    """Write ``poses`` as NWB files with ndx-pose, one per animal slot.

    Args:
        poses (VideoPoses): one video's predictions, ``(T, N, K, 2)``
            keypoints and ``(T, N, K)`` scores.
        path (str): the ``.nwb`` file (one animal), or the stem of the
            animals' files (see :func:`nwb_paths`).

    Returns:
        list[str]: the files written, one per animal.
    """
    from pynwb import NWBHDF5IO

    def write(nwbfile, target):
        with NWBHDF5IO(target, 'w') as io:
            io.write(nwbfile)

    paths = nwb_paths(path, poses.individuals)
    for n, target in enumerate(paths):
        nwbfile = _animal_file(poses, n)
        atomic_write(target, lambda p: write(nwbfile, p))
    return paths
