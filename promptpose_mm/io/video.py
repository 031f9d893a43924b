"""Video files: videos that decode back exactly, and predictions drawn on
their video."""
import os
import os.path as osp
from typing import Iterable, Optional, Tuple

import numpy as np

from .atomic import atomic_write
from .poses import VideoPoses
from .sleap import sleap_labels


def write_lossless_video(path: str,
                         frames: Iterable[np.ndarray],
                         size: Optional[Tuple[int, int]] = None,
                         fps: float = 10.0) -> str:
    """Write ``(H, W, 3)`` uint8 RGB frames, one at a time, as FFV1 in AVI:
    any frame size (odd ones too), decoded back exactly.

    Args:
        path (str): the ``.avi`` file (its folder is created).
        frames (Iterable[np.ndarray]): the frames, all of one size.
        size (tuple[int, int], optional): ``(width, height)``; default the
            first frame's.
        fps (float): frames per second.

    Raises:
        ValueError: a frame of another size, or no frame; the message names
            the file.
    """
    import imageio_ffmpeg
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f'write_lossless_video: no frame to write to {path}')
    width, height = size or (first.shape[1], first.shape[0])
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        path, (width, height),
        codec='ffv1',
        pix_fmt_out='bgr0',
        macro_block_size=1,
        fps=fps)
    writer.send(None)
    try:
        for frame in (first, *frames):
            if frame.shape != (height, width, 3):
                raise ValueError(f'frame of shape {frame.shape} in a '
                                 f'{width}x{height} video {path}')
            writer.send(np.ascontiguousarray(frame, dtype=np.uint8))
    finally:
        writer.close()
    return path


def render_labelled_video(poses: VideoPoses,
                          path: str,
                          score_threshold: float = 0.3,
                          show_progress: bool = False) -> str:
    """Draw the predictions on the video with sleap-io, points scoring
    under ``score_threshold`` left out; frame sizes that the encoder cannot
    take (odd widths) are padded by it, not refused."""
    import sleap_io as sio
    shown = poses._replace(
        keypoints=np.where((
            poses.scores >= score_threshold)[...,
                                             None], poses.keypoints, np.nan))
    labels = sleap_labels(shown, keep_empty=True)
    atomic_write(
        path, lambda p: sio.render_video(
            labels,
            p,
            include_unlabeled=True,
            fps=poses.fps or None,
            show_progress=show_progress))
    return path
