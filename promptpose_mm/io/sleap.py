"""SLEAP's files, via sleap-io: labels files read into a
:class:`~.labels.LabelSet`, and predictions written as SLEAP files.

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

Predictions (:class:`~.poses.VideoPoses`) become a ``sleap_io.Labels`` of
predicted instances, one track per animal slot (:func:`sleap_labels`),
written as a SLEAP labels file (``.slp``) or its analysis HDF5
(``.analysis.h5``).
"""
import os
import os.path as osp
from typing import List, Optional

import numpy as np

from .atomic import atomic_write
from .labels import (LabelError, LabelledFrame, LabelSet, Skipped,
                     check_skeleton, clean_frames)
from .poses import VideoPoses


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
    """Write an image through a temporary file renamed into place, unless
    ``path`` already holds exactly this image (a re-import): a file with
    other pixels (another labels file's frame) is replaced."""
    from PIL import Image
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if osp.isfile(path):
        try:
            with Image.open(path) as found:
                if np.array_equal(np.asarray(found), image):
                    return
        except OSError:
            pass  # unreadable: written again
    atomic_write(
        path, lambda p: Image.fromarray(np.ascontiguousarray(image)).save(
            p, format='PNG'))


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


def sleap_labels(poses: VideoPoses, keep_empty: bool = False):
    """The predictions as a ``sleap_io.Labels`` of predicted instances
    (one track per animal slot; empty slots are left out unless
    ``keep_empty``, which keeps every frame for rendering)."""
    import sleap_io as sio
    skeleton = sio.Skeleton(
        list(poses.bodyparts),
        edges=[tuple(link) for link in poses.skeleton],
        name=poses.scorer)
    video = sio.Video.from_filename(poses.video)
    tracks = [sio.Track(name) for name in poses.individuals]
    labelled = []
    for t in range(poses.keypoints.shape[0]):
        instances = []
        for n, track in enumerate(tracks):
            points = poses.keypoints[t, n]
            if np.isnan(points).all() and not keep_empty:
                continue
            scores = np.nan_to_num(poses.scores[t, n])
            instances.append(
                sio.PredictedInstance.from_numpy(
                    points,
                    skeleton=skeleton,
                    point_scores=scores,
                    score=float(scores.mean()),
                    track=track))
        if instances:
            labelled.append(
                sio.LabeledFrame(
                    video=video, frame_idx=t, instances=instances))
    return sio.Labels(
        labeled_frames=labelled,
        videos=[video],
        skeletons=[skeleton],
        tracks=tracks)


def write_sleap_predictions(poses: VideoPoses,
                            path: str,
                            labels: Optional[object] = None) -> str:
    """Write ``poses`` as a SLEAP analysis HDF5 (``.analysis.h5``) or, for
    any other suffix, a SLEAP labels file (``.slp``).

    Args:
        poses (VideoPoses): one video's predictions.
        path (str): the file.
        labels (sleap_io.Labels, optional): ``sleap_labels(poses)``, when
            already built.
    """
    import sleap_io as sio
    labels = sleap_labels(poses) if labels is None else labels
    if path.endswith('.analysis.h5'):
        return atomic_write(path, lambda p: sio.save_analysis_h5(labels, p))
    return atomic_write(path, lambda p: sio.save_slp(labels, p, verbose=False))
