"""SLEAP labels files read into a :class:`~.labels.LabelSet`, via sleap-io.

A ``.slp`` file refers to its videos; a ``.pkg.slp`` file embeds the
labelled frames. Either way the labelled frames are written as PNG images
under ``<out_dir>/images/<video>/<frame index>.png`` (MMPose's datasets read
images from files), once: an image already there is kept.

- The keypoints are the skeleton's nodes, in order; its edges are the
  skeleton and its symmetries the flip pairs (without symmetries, flip
  pairs are found from left/right names). A file with several
  skeletons is an error.
- User-labelled instances are imported; predictions are not. A frame with
  predictions only, a frame whose video cannot be read, and the shared
  rules of :func:`~.labels.clean_frames` are reported as skipped.
- A file without user-labelled frames is a :class:`~.labels.LabelError`.
"""
import os
import os.path as osp
from typing import List

import numpy as np

from promptpose_mm.io.labels import (LabelError, LabelledFrame, LabelSet,
                                     Skipped, check_skeleton, clean_frames)


def _video_names(labels) -> List[str]:
    """A folder name per video: its (source) file's stem, made unique."""
    names: List[str] = []
    for video in labels.videos:
        source = video.source_video or video
        filename = source.filename
        if isinstance(filename, (list, tuple)):  # an image sequence
            filename = osp.dirname(filename[0]) if filename else 'images'
        stem = osp.basename(str(filename)).split('.')[0] or 'video'
        name, n = stem, 1
        while name in names:
            n += 1
            name = f'{stem}_{n}'
        names.append(name)
    return names


def _write_png(path: str, image: np.ndarray) -> None:
    """Write an image through a temporary file renamed into place."""
    from PIL import Image
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    partial = osp.join(osp.dirname(path), f'.{osp.basename(path)}.partial')
    Image.fromarray(np.ascontiguousarray(image)).save(partial, format='PNG')
    os.replace(partial, path)


def read_sleap_labels(path: str, out_dir: str) -> LabelSet:
    """Read a SLEAP ``.slp`` / ``.pkg.slp`` file and write its frames.

    Args:
        path (str): the labels file.
        out_dir (str): the folder that receives ``images/``; it is the
            returned set's ``image_root``.

    Returns:
        LabelSet: names, skeleton and symmetries of the file's skeleton,
        the user-labelled frames, what was skipped, ``source='sleap'``.
    """
    import sleap_io as sio
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such SLEAP labels file')
    try:
        labels = sio.load_slp(path)
    except Exception as error:  # h5py/sleap-io raise many kinds
        raise LabelError(f'{path}: not a readable SLEAP labels file '
                         f'({type(error).__name__}: {error}); export it '
                         'again from SLEAP') from None
    if len(labels.skeletons) != 1:
        raise LabelError(
            f'{path}: {len(labels.skeletons)} skeletons; a pose model needs '
            'one keypoint set: keep one skeleton in SLEAP')
    skeleton = labels.skeletons[0]
    bodyparts = [str(name) for name in skeleton.node_names]
    links = check_skeleton(bodyparts, skeleton.edge_names, path)
    symmetries = [tuple(map(str, pair)) for pair in skeleton.symmetry_names]
    video_names = _video_names(labels)
    user_frames = [lf for lf in labels.labeled_frames if lf.user_instances]
    if not user_frames:
        raise LabelError(
            f'{path}: no user-labelled frames ({len(labels.labeled_frames)} '
            'frames with predictions only); label frames in SLEAP, or give '
            'the labels file rather than a predictions file')
    skipped = [
        Skipped(
            'frame with predictions only (not imported)',
            f'{video_names[labels.videos.index(lf.video)]} frame '
            f'{lf.frame_idx}') for lf in labels.labeled_frames
        if not lf.user_instances
    ]
    out_dir = osp.abspath(out_dir)
    frames = []
    for lf in user_frames:
        video = video_names[labels.videos.index(lf.video)]
        file_name = f'images/{video}/{int(lf.frame_idx):06d}.png'
        image_path = osp.join(out_dir, file_name)
        try:
            image = lf.image
        except Exception as error:  # decoders raise many kinds
            image, reason = None, f'{type(error).__name__}: {error}'
        else:
            reason = 'no image returned'
        if image is None:
            skipped.append(
                Skipped(
                    'unreadable video frame',
                    f'{lf.video.filename} frame {lf.frame_idx} '
                    f'({reason})'))
            continue
        image = np.asarray(image)
        if not osp.isfile(image_path):
            os.makedirs(osp.dirname(image_path), exist_ok=True)
            _write_png(image_path, image)
        instances = np.stack([
            inst.numpy()[:, :2] for inst in lf.user_instances
        ]).astype(np.float64)
        tracks = tuple(inst.track.name if inst.track else ''
                       for inst in lf.user_instances)
        frames.append(
            LabelledFrame(file_name, int(image.shape[1]), int(image.shape[0]),
                          instances, video, tracks))
    frames, skipped = clean_frames(frames, bodyparts, path, skipped,
                                   'check that the videos can be found')
    return LabelSet(
        name=osp.basename(path).split('.')[0],
        bodyparts=bodyparts,
        skeleton=links,
        frames=frames,
        image_root=out_dir,
        flip_pairs=symmetries or None,
        skipped=skipped,
        source='sleap')
