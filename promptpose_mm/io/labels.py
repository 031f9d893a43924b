"""Labelled frames from any labelling tool, before they become COCO.

The DeepLabCut and SLEAP readers (:mod:`.deeplabcut`, :mod:`.sleap`) both
return a :class:`LabelSet`: the keypoint names, the skeleton, optional
flip pairs and the labelled frames, each with its image (a file under
``image_root``), its size, its video (the split unit) and one ``(K, 2)``
array of points per animal, NaN where a point is unlabelled.

:func:`clean_frames` applies the rules every reader shares, and records
what it leaves out as :class:`Skipped` entries instead of dropping it
silently: a point outside its image is unlabelled, a frame without any
labelled point is skipped, the same image listed twice is an error.
"""
from collections import Counter
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np


class LabelledFrame(NamedTuple):
    """One labelled image.

    Attributes:
        file_name (str): the image path relative to the label set's
            ``image_root``, with ``/`` separators.
        width (int): image width in pixels.
        height (int): image height in pixels.
        instances (np.ndarray): ``(N, K, 2)`` float64 pixel coordinates of
            ``N`` animals in the image's own frame, NaN where a point is
            unlabelled.
        video (str): the video (or labelled-data folder) the frame comes
            from; frames of one video stay in one split.
        tracks (tuple[str, ...]): the animal names (DeepLabCut individuals,
            SLEAP tracks), ``''`` where there is none; one per instance.
    """
    file_name: str
    width: int
    height: int
    instances: np.ndarray
    video: str = ''
    tracks: Tuple[str, ...] = ()


class Skipped(NamedTuple):
    """Something a reader did not import, and why.

    Attributes:
        reason (str): the rule, e.g. ``'frame without labelled points'``.
        where (str): the frame, point or file it concerns.
    """
    reason: str
    where: str


class LabelSet(NamedTuple):
    """A labelled data set, ready to be split and written as COCO.

    Attributes:
        name (str): the data set's name (DeepLabCut's ``Task``, the SLEAP
            file's stem).
        bodyparts (list[str]): the keypoint names, in order.
        skeleton (list[tuple[str, str]]): links by keypoint name.
        frames (list[LabelledFrame]): the frames, in file order.
        image_root (str): the folder the frames' ``file_name`` start from.
        flip_pairs (list[tuple[str, str]], optional): keypoints swapped by a
            horizontal flip; None: found from left/right names.
        skipped (list[Skipped]): what the reader left out.
        source (str): ``'deeplabcut'`` or ``'sleap'``.
    """
    name: str
    bodyparts: List[str]
    skeleton: List[Tuple[str, str]]
    frames: List[LabelledFrame]
    image_root: str
    flip_pairs: Optional[List[Tuple[str, str]]] = None
    skipped: List[Skipped] = []
    source: str = ''


class LabelError(ValueError):
    """Labels that cannot be imported; the message names the file and the
    fix."""


def check_skeleton(bodyparts: Sequence[str], links: Sequence[Sequence[str]],
                   where: str) -> List[Tuple[str, str]]:
    """The links as name pairs; an error names any unknown keypoint."""
    pairs = [(str(a), str(b)) for a, b in links]
    unknown = sorted({name
                      for pair in pairs
                      for name in pair} - set(bodyparts))
    if unknown:
        raise LabelError(f'{where}: skeleton names {unknown} are not '
                         f'keypoints {list(bodyparts)}; fix the skeleton')
    return pairs


def clean_frames(
    frames: Sequence[LabelledFrame],
    bodyparts: Sequence[str],
    source: str,
    skipped: Sequence[Skipped] = (),
    hint: str = 'check the image paths'
) -> Tuple[List[LabelledFrame], List[Skipped]]:
    """Apply the shared import rules to a reader's frames.

    - a point outside its image (``x`` not in ``[0, width]`` or ``y`` not
      in ``[0, height]``) becomes unlabelled, recorded as skipped;
    - an instance without labelled points is removed, recorded, and a
      frame left without instances is skipped, recorded;
    - the same ``file_name`` twice is a :class:`LabelError` naming
      ``source``, and so is a set without any frame left (``hint`` says
      what to check).

    Args:
        frames (Sequence[LabelledFrame]): a reader's frames, file order.
        bodyparts (Sequence[str]): the ``K`` keypoint names.
        source (str): the project or file, for messages.
        skipped (Sequence[Skipped]): what the reader already left out.
        hint (str): the fix an empty result suggests.

    Returns:
        tuple: the kept frames (file order) and every skipped entry (the
        reader's first).
    """
    seen = Counter(frame.file_name for frame in frames)
    twice = sorted(name for name, count in seen.items() if count > 1)
    if twice:
        raise LabelError(
            f'{source}: {len(twice)} image(s) labelled more than once, e.g. '
            f'{twice[:3]}; keep one row per image (a label table and its '
            'copy under another name?)')
    kept, skipped = [], list(skipped)
    for frame in frames:
        points = np.array(
            frame.instances, dtype=np.float64).reshape(-1, len(bodyparts), 2)
        x, y = points[..., 0], points[..., 1]
        outside = np.isfinite(points).all(-1) & ((x < 0) | (y < 0) |
                                                 (x > frame.width) |
                                                 (y > frame.height))
        for n, k in zip(*np.nonzero(outside)):
            skipped.append(
                Skipped(
                    'point outside its image (unlabelled)',
                    f'{frame.file_name} ({frame.width}x{frame.height}): '
                    f'{bodyparts[k]} at ({x[n, k]:.1f}, {y[n, k]:.1f})'))
        points[outside] = np.nan
        labelled = np.isfinite(points).all(-1).any(-1)
        tracks = frame.tracks or ('', ) * len(points)
        if not labelled.any():
            skipped.append(
                Skipped('frame without labelled points', frame.file_name))
            continue
        for n in np.flatnonzero(~labelled):
            skipped.append(
                Skipped('animal without labelled points',
                        f'{frame.file_name}: {tracks[n] or f"animal {n}"}'))
        kept.append(
            frame._replace(
                instances=points[labelled],
                tracks=tuple(t for t, keep in zip(tracks, labelled) if keep)))
    if not kept:
        raise LabelError(f'{source}: no frame with a labelled point and a '
                         f'readable image ({len(skipped)} skipped); {hint}')
    return kept, skipped


def describe_skipped(skipped: Sequence[Skipped],
                     examples: int = 3) -> List[str]:
    """One line per reason: the count and the first ``examples``."""
    by_reason: Dict[str, List[str]] = {}
    for entry in skipped:
        by_reason.setdefault(entry.reason, []).append(entry.where)
    lines = []
    for reason, where in by_reason.items():
        more = f', ... ({len(where) - examples} more)' if len(
            where) > examples else ''
        lines.append(f'{len(where)} x {reason}: '
                     f'{"; ".join(where[:examples])}{more}')
    return lines
