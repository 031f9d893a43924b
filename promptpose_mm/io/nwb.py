"""Predictions written as NWB (Neurodata Without Borders) files.

:func:`write_nwb` writes a video's predicted poses (a
:class:`~.poses.VideoPoses`) as an ``.nwb`` file of ndx-pose pose
estimates: sleap-io's ``save_nwb`` of the poses as SLEAP labels
(:func:`~.sleap.sleap_labels`: predicted instances, one track per animal
slot).
"""
from typing import Optional

from .atomic import atomic_write
from .poses import VideoPoses
from .sleap import sleap_labels


def write_nwb(poses: VideoPoses,
              path: str,
              labels: Optional[object] = None) -> str:
    """Write ``poses`` as an NWB file with ndx-pose.

    Args:
        poses (VideoPoses): one video's predictions.
        path (str): the ``.nwb`` file.
        labels (sleap_io.Labels, optional): ``sleap_labels(poses)``, when
            already built.

    Returns:
        str: ``path``.
    """
    import sleap_io as sio
    labels = sleap_labels(poses) if labels is None else labels
    return atomic_write(path, lambda p: sio.save_nwb(labels, p))
