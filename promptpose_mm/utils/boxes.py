"""The box around an animal's points, shared by annotation import and video
inference (the same crop in training and at inference)."""
from typing import List

import numpy as np


def square_box(points: np.ndarray, padding: float = 0.25) -> List[float]:
    """A square box ``[x, y, w, h]`` around the labelled points.

    The square's side is the larger extent of the points (at least 1
    pixel), centred on them, and grows by ``padding`` times the side on
    every side.

    Args:
        points (np.ndarray): ``(K, 2)`` coordinates, NaN where unlabelled.
        padding (float): the growth per side, a fraction of the side.
    """
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        raise ValueError('a box needs at least one labelled point')
    low, high = points.min(axis=0), points.max(axis=0)
    center = (low + high) / 2
    side = max(float((high - low).max()), 1.0) * (1 + 2 * padding)
    return [
        float(center[0] - side / 2),
        float(center[1] - side / 2), side, side
    ]
