"""Per-frame keypoints of a video, written in the lab tools' own formats.

A :class:`VideoPoses` holds what a model predicted on every frame of one
video: ``(T, N, K)`` coordinates and scores of up to ``N`` animals. It is
written, through pandas and sleap-io rather than by hand, as

- DeepLabCut's analysis table (``.h5`` and ``.csv``) and its
  ``_meta.pickle``, named as DeepLabCut names them (:mod:`.deeplabcut`);
- a SLEAP labels file (``.slp``) of predicted instances and its analysis
  HDF5 (``.analysis.h5``), by sleap-io (:mod:`.sleap`);
- NWB with ndx-pose (``.nwb``, one file per animal, :mod:`.nwb`);
- the boxes the model ran on and each animal's state per frame
  (``_boxes.csv``: ``frame, individual, state, x1, y1, x2, y2``);
- a labelled video rendered by sleap-io, points under a score cut-off left
  out (:func:`~.video.render_labelled_video`).

Every file goes to a temporary name first and is renamed into place when
complete, so an interrupted write never leaves half a file.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .atomic import atomic_write

FORMATS = ('dlc-h5', 'dlc-csv', 'slp', 'analysis-h5', 'nwb', 'boxes')
SUFFIXES = {
    'dlc-h5': '.h5',
    'dlc-csv': '.csv',
    'slp': '.slp',
    'analysis-h5': '.analysis.h5',
    'nwb': '.nwb',
    'boxes': '_boxes.csv',
}


class VideoPoses(NamedTuple):
    """Predicted keypoints of one video.

    Attributes:
        video (str): the video file.
        keypoints (np.ndarray): ``(T, N, K, 2)`` float pixel coordinates
            of ``N`` animal slots on ``T`` frames, NaN where a slot is empty.
        scores (np.ndarray): ``(T, N, K)`` keypoint scores, NaN where the
            slot is empty.
        bodyparts (list[str]): the ``K`` keypoint names.
        skeleton (list[tuple[str, str]]): links by name.
        fps (float): frames per second of the video (0 when unknown).
        scorer (str): the model's name, DeepLabCut's ``scorer`` level and
            file-name suffix (DeepLabCut's tools find ``DLC`` in it).
        boxes (np.ndarray, optional): ``(T, N, 4)`` xyxy boxes the model ran
            on, NaN where none.
        states (np.ndarray, optional): ``(T, N)`` how each animal was found
            per frame (``followed``, ``searched``, ``detected``, ``lost``,
            ...).
        frame_size (tuple[int, int], optional): the video's ``(width,
            height)``.
        run (dict, optional): how the poses were made, for DeepLabCut's
            ``_meta.pickle``: ``start`` and ``stop`` (seconds since the
            epoch), ``batch_size``, ``config`` (the model config's path).
        animal_names (Sequence[str], optional): the ``N`` slots' names
            (DeepLabCut individuals, SLEAP tracks, NWB subjects); default
            ``animal1``, ``animal2``, ...
    """
    video: str
    keypoints: np.ndarray
    scores: np.ndarray
    bodyparts: List[str]
    skeleton: List[Tuple[str, str]]
    fps: float = 0.0
    scorer: str = 'DLC_PromptPose'
    boxes: Optional[np.ndarray] = None
    states: Optional[np.ndarray] = None
    frame_size: Optional[Tuple[int, int]] = None
    run: Optional[dict] = None
    animal_names: Optional[Sequence[str]] = None

    @property
    def individuals(self) -> List[str]:
        """Animal slot names: :attr:`animal_names`, else ``animal1``,
        ``animal2``, ..."""
        slots = self.keypoints.shape[1]
        if self.animal_names is None:
            return [f'animal{n + 1}' for n in range(slots)]
        names = [str(name) for name in self.animal_names]
        if len(names) != slots or len(set(names)) != slots or '' in names:
            raise ValueError(f'{len(names)} animal names {names} for {slots} '
                             'animal slots: give one distinct name per slot')
        return names


def box_table(poses: VideoPoses):
    """The boxes and states of ``poses`` as a pandas DataFrame, one row per
    frame and animal slot: ``frame, individual, state, x1, y1, x2, y2``."""
    import pandas as pd
    if poses.boxes is None or poses.states is None:
        raise ValueError('these poses carry no boxes and states to write')
    frames, animals = poses.states.shape
    table = pd.DataFrame(
        poses.boxes.reshape(frames * animals, 4),
        columns=['x1', 'y1', 'x2', 'y2'])
    table.insert(0, 'frame', np.repeat(np.arange(frames), animals))
    table.insert(1, 'individual', np.tile(poses.individuals, frames))
    table.insert(2, 'state', poses.states.reshape(-1).astype(str))
    return table


def write_poses(poses: VideoPoses,
                out_stem: str,
                formats: Sequence[str] = FORMATS) -> List[str]:
    """Write ``poses`` as ``out_stem`` + the suffix of each format.

    Args:
        poses (VideoPoses): one video's predictions.
        out_stem (str): the output path without suffix; DeepLabCut's rule
            is the video's stem and the scorer, e.g.
            ``out/session1DLC_PromptPose``.
        formats (Sequence[str]): keys of :data:`SUFFIXES`. Several
            animals' DeepLabCut tables are named as DeepLabCut names its
            tracked ones (``<stem>_el.h5``, :func:`~.deeplabcut.table_path`);
            a DeepLabCut table comes with its ``<stem>_meta.pickle``.

    Returns:
        list[str]: the written files (the NWB ones: one per animal).
    """
    unknown = [name for name in formats if name not in SUFFIXES]
    if unknown:
        raise ValueError(f'unknown output formats {unknown}; choose from '
                         f'{list(SUFFIXES)}')
    # the formats' modules import this one
    from .deeplabcut import (table_path, write_deeplabcut_meta,
                             write_deeplabcut_predictions)
    from .nwb import write_nwb
    from .sleap import sleap_labels, write_sleap_predictions
    written = []
    labels = sleap_labels(poses) if {'slp', 'analysis-h5'
                                     } & set(formats) else None
    for name in formats:
        path = out_stem + SUFFIXES[name]
        if name in ('dlc-h5', 'dlc-csv'):
            path = table_path(out_stem, SUFFIXES[name], len(poses.individuals))
            written.append(write_deeplabcut_predictions(poses, path))
        elif name == 'boxes':
            boxes = box_table(poses)
            written.append(
                atomic_write(path, lambda p: boxes.to_csv(p, index=False)))
        elif name in ('slp', 'analysis-h5'):
            written.append(write_sleap_predictions(poses, path, labels))
        else:
            written += write_nwb(poses, path)
    if {'dlc-h5', 'dlc-csv'} & set(formats):
        written.append(write_deeplabcut_meta(poses, out_stem + '_meta.pickle'))
    return written
