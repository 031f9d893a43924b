"""Deterministic train/validation splits of labelled frames.

- By video, when the frames come from several videos (or DeepLabCut
  ``labeled-data`` folders): whole videos go to validation, so that no
  validation frame has a near-duplicate neighbour in training. The videos
  are shuffled with ``seed`` and ``round(val_fraction * videos)`` of them
  (at least one, at most all but one) are held out.
- By frame, from a single video: ``round(val_fraction * frames)`` frames
  (at least one) drawn with ``seed``.
- ``val_every=N`` instead: every N-th frame in file order (the 5th, 10th,
  ...), the protocol of ``tools/analysis/compare_on_labels.py``.

Both splits keep the frames' file order.
"""
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

from promptpose_mm.io.labels import LabelledFrame


class Split(NamedTuple):
    """Training and validation frames, and the rule that made them."""
    train: List[LabelledFrame]
    val: List[LabelledFrame]
    rule: str


def split_frames(frames: Sequence[LabelledFrame],
                 val_fraction: float = 0.2,
                 seed: int = 0,
                 val_every: Optional[int] = None) -> Split:
    """Split ``frames`` (see the module for the rules).

    Args:
        frames (Sequence[LabelledFrame]): in file order.
        val_fraction (float): the share held out, in ``(0, 1)``.
        seed (int): the shuffle's seed.
        val_every (int, optional): every N-th frame to validation instead.
    """
    frames = list(frames)
    if len(frames) < 2:
        raise ValueError(f'{len(frames)} labelled frame(s): a training and a '
                         'validation split need at least 2')
    if val_every is not None:
        if val_every < 2:
            raise ValueError(f'val_every must be >= 2, got {val_every}')
        keep = [(i + 1) % val_every != 0 for i in range(len(frames))]
        rule = f'every {val_every}th frame in file order to validation'
    else:
        if not 0 < val_fraction < 1:
            raise ValueError(
                f'val_fraction must lie in (0, 1), got {val_fraction}')
        rng = np.random.default_rng(seed)
        videos = sorted({frame.video for frame in frames})
        if len(videos) > 1:
            count = min(
                max(round(val_fraction * len(videos)), 1),
                len(videos) - 1)
            held = {videos[i] for i in rng.permutation(len(videos))[:count]}
            keep = [frame.video not in held for frame in frames]
            rule = (f'by video, seed {seed}: {count} of {len(videos)} videos '
                    f'to validation ({", ".join(sorted(held))})')
        else:
            count = min(
                max(round(val_fraction * len(frames)), 1),
                len(frames) - 1)
            held_frames = set(rng.permutation(len(frames))[:count].tolist())
            keep = [i not in held_frames for i in range(len(frames))]
            rule = (f'by frame, seed {seed}: {count} of {len(frames)} frames '
                    'of one video to validation')
    train = [frame for frame, k in zip(frames, keep) if k]
    val = [frame for frame, k in zip(frames, keep) if not k]
    return Split(train, val, rule)
