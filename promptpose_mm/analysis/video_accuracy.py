"""Poses found over a video measured against ground-truth labels.

Frame by frame, :func:`match_animals` pairs the predicted animal slots with
the labelled animals (the Hungarian assignment on the mean keypoint
distance); :func:`compare_tracks` collects, over all frames, the pixel
errors of the animals found, how many labelled animals were found, and how
often an animal's identity (its predicted slot) changed.
:func:`format_accuracy_table` prints named runs side by side as a Markdown
table. Only numpy and scipy: no model is needed.

Shapes: ``T`` frames, ``N`` predicted slots, ``M`` labelled animals, ``K``
keypoints; coordinates are pixels, NaN where a point is missing.
"""
from typing import List, Mapping, NamedTuple, Tuple, Union

import numpy as np
from scipy.optimize import linear_sum_assignment

from promptpose_mm.utils.tables import markdown_table

RUN_COLUMNS = ('frames', 'animals found %', 'median error px',
               'within {within:g} px %', 'over {over:g} px %',
               'identity swaps')


def keypoint_distances(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Euclidean distances of every predicted slot to every animal.

    Args:
        pred (np.ndarray): ``(N, K, 2)`` predicted points.
        truth (np.ndarray): ``(M, K, 2)`` labelled points.

    Returns:
        np.ndarray: ``(N, M, K)`` pixel distances, NaN where the point is
        not finite in both.
    """
    pred = np.asarray(pred, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    both = (
        np.isfinite(pred).all(-1)[:, None]
        & np.isfinite(truth).all(-1)[None])
    with np.errstate(invalid='ignore'):
        distances = np.linalg.norm(pred[:, None] - truth[None], axis=-1)
    return np.where(both, distances, np.nan)


def mean_distances(distances: np.ndarray) -> np.ndarray:
    """``(N, M)`` mean over the keypoints of ``(N, M, K)`` distances, NaN
    where a pair has no keypoint in common."""
    common = np.isfinite(distances)
    count = common.sum(-1)
    total = np.where(common, distances, 0.0).sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def match_animals(pred: np.ndarray,
                  truth: np.ndarray) -> List[Tuple[int, int]]:
    """Pair one frame's predicted slots with its labelled animals.

    The Hungarian assignment (``scipy.optimize.linear_sum_assignment``) on
    the mean Euclidean distance over the keypoints finite in both. A pair
    without a keypoint in common (an all-NaN slot, an animal without
    labels) is never matched; as many pairs as possible are matched first,
    then the total distance is the least.

    Args:
        pred (np.ndarray): ``(N, K, 2)`` predicted points, NaN where
            missing.
        truth (np.ndarray): ``(M, K, 2)`` labelled points, NaN where
            unlabelled.

    Returns:
        list[tuple[int, int]]: ``(predicted slot, labelled animal)`` pairs,
        by slot.
    """
    pred = np.asarray(pred, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if pred.ndim != 3 or truth.ndim != 3 or pred.shape[1:] != truth.shape[1:]:
        raise ValueError(f'match_animals: predictions {pred.shape} and '
                         f'labels {truth.shape} must be (N, K, 2) and '
                         '(M, K, 2) with the same K')
    cost = mean_distances(keypoint_distances(pred, truth))
    valid = np.isfinite(cost)
    if not valid.any():
        return []
    # an impossible pair costs more than any set of possible ones: the
    # assignment keeps the most possible pairs, then the least distance
    impossible = (float(cost[valid].max()) + 1.0) * (min(cost.shape) + 1)
    slots, animals = linear_sum_assignment(np.where(valid, cost, impossible))
    return [(int(n), int(m)) for n, m in zip(slots, animals) if valid[n, m]]


class TrackComparison(NamedTuple):
    """Predicted tracks against the labels, over all frames.

    Attributes:
        errors (np.ndarray): 1-D pixel errors of every keypoint labelled
            and predicted in the matched pairs that were found.
        frames (int): frames with at least one labelled keypoint.
        animal_frames (int): ``(frame, labelled animal)`` pairs with at
            least one labelled keypoint.
        found (int): those whose matched slot's mean keypoint error is at
            most ``found_px``.
        swaps (int): frames at which the slot of any animal differs from
            its slot at the last frame it was found (an exchange of two
            animals is one swap).
        id_switches (int): the changes of slot, counted per animal (as
            the MOT benchmarks count them: two per exchange).
        slots (np.ndarray): ``(T, M)`` int, the slot each animal was found
            in, -1 where it was not found.
    """
    errors: np.ndarray
    frames: int
    animal_frames: int
    found: int
    swaps: int
    id_switches: int
    slots: np.ndarray

    @property
    def median(self) -> float:
        """The median keypoint error in pixels (NaN without errors)."""
        return float(np.median(self.errors)) if len(self.errors) else np.nan

    @property
    def found_share(self) -> float:
        """``found / animal_frames`` (NaN without labelled animals)."""
        return (self.found /
                self.animal_frames if self.animal_frames else np.nan)

    def within(self, px: float) -> float:
        """The share of keypoint errors at most ``px`` pixels."""
        return float(np.mean(
            self.errors <= px)) if len(self.errors) else np.nan

    def over(self, px: float) -> float:
        """The share of keypoint errors above ``px`` pixels."""
        return float(np.mean(self.errors > px)) if len(self.errors) else np.nan


def compare_tracks(pred_points: np.ndarray, truth: np.ndarray,
                   found_px: Union[float, np.ndarray]) -> TrackComparison:
    """Measure predicted tracks against labelled animals, frame by frame.

    Each frame's slots are paired with its animals by
    :func:`match_animals`; a pair counts as found when its mean keypoint
    error is at most ``found_px`` (a NaN limit finds nothing). An animal's
    identity is its slot: a change from the slot of the last frame it was
    found in is an identity switch; frames where it was not found (a lost
    frame, an unlabelled one) change nothing.

    Args:
        pred_points (np.ndarray): ``(T, N, K, 2)`` predicted points, NaN
            where a slot or a point is empty.
        truth (np.ndarray): ``(T, M, K, 2)`` labelled points, NaN where
            unlabelled (an unlabelled frame is all NaN).
        found_px (float | np.ndarray): the largest mean error of a found
            animal, in pixels: one number, or one per frame and animal
            (anything broadcasting to ``(T, M)``, e.g. half the side of
            each animal's box).

    Returns:
        TrackComparison: errors, counts and identity changes.
    """
    pred_points = np.asarray(pred_points, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if (pred_points.ndim != 4 or truth.ndim != 4 or pred_points.shape[-1] != 2
            or truth.shape[-1] != 2 or pred_points.shape[0] != truth.shape[0]
            or pred_points.shape[2] != truth.shape[2]):
        raise ValueError(
            f'compare_tracks: predictions {pred_points.shape} and labels '
            f'{truth.shape} must be (T, N, K, 2) and (T, M, K, 2) with the '
            'same frames T and keypoints K')
    frames, animals = truth.shape[:2]
    try:
        limits = np.broadcast_to(
            np.asarray(found_px, dtype=np.float64), (frames, animals))
    except ValueError:
        raise ValueError(f'compare_tracks: found_px of shape '
                         f'{np.shape(found_px)} does not broadcast to the '
                         f'(T, M) = {(frames, animals)} labelled animals')
    errors: List[np.ndarray] = []
    slots = np.full((frames, animals), -1, dtype=np.int64)
    last = np.full(animals, -1, dtype=np.int64)
    labelled_frames = animal_frames = found = swaps = id_switches = 0
    for t in range(frames):
        labelled = np.isfinite(truth[t]).all(-1).any(-1)
        if not labelled.any():
            continue
        labelled_frames += 1
        animal_frames += int(labelled.sum())
        distances = keypoint_distances(pred_points[t], truth[t])
        swapped = False
        for n, m in match_animals(pred_points[t], truth[t]):
            pair = distances[n, m][np.isfinite(distances[n, m])]
            if not pair.mean() <= limits[t, m]:
                continue
            found += 1
            errors.append(pair)
            slots[t, m] = n
            if last[m] >= 0 and last[m] != n:
                id_switches += 1
                swapped = True
            last[m] = n
        swaps += swapped
    return TrackComparison(
        errors=np.concatenate(errors) if errors else np.zeros(0),
        frames=labelled_frames,
        animal_frames=animal_frames,
        found=found,
        swaps=swaps,
        id_switches=id_switches,
        slots=slots)


def _percent(share: float) -> str:
    return '-' if np.isnan(share) else f'{100 * share:.1f}'


def format_accuracy_table(results: Mapping[str, TrackComparison],
                          within_px: float = 10,
                          over_px: float = 50) -> str:
    """Named runs as a Markdown table, one row each.

    Columns: the run, frames, animals found %, median error px, within
    ``within_px`` px %, over ``over_px`` px % (shares of the keypoint
    errors), identity swaps; ``-`` where there is nothing to measure.

    Args:
        results (Mapping[str, TrackComparison]): run name -> comparison,
            in row order (e.g. ``'video tool (defaults)'``,
            ``'ground-truth boxes'``).
        within_px (float): the error of the "within" column.
        over_px (float): the error of the "over" column.
    """
    header = ['run'] + [
        column.format(within=within_px, over=over_px) for column in RUN_COLUMNS
    ]
    rows = []
    for name, result in results.items():
        median = result.median
        rows.append([
            name,
            str(result.frames),
            _percent(result.found_share),
            '-' if np.isnan(median) else f'{median:.1f}',
            _percent(result.within(within_px)),
            _percent(result.over(over_px)),
            str(result.swaps)
        ])
    return '\n'.join(markdown_table(header, rows))
