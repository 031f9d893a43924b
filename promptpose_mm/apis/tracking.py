"""Following animals from frame to frame, finding them, keeping identities.

A top-down model sees only its crop, so a video tool has to know where each
animal is before the model runs. Two trackers give every animal a fixed
slot (its identity) and every frame a box and a state per slot:

- :class:`Follower` (``--boxes track``) needs no detector. Each animal's box
  on a frame comes from the frame before: the square around its confident
  keypoints (padded as in training), moved by its velocity, its side
  smoothed and never below a floor. Frames are still run in batches: the
  boxes of a whole batch are first extrapolated from the last frame known,
  the model runs on all of them at once, and a frame whose box turns out to
  be off the animal it shows (by more than ``tolerance`` of the side, about
  the shifts the model saw in training), or that shows none where the frame
  before implies another box, is run again on the box the frame before

  lost on that frame (its row is NaN) and searched for: at once, then every
  ``search_every`` frames. The search runs the pose model itself over
  windows at the trained scale, first around where the animal was last
  seen, then tiling the whole frame, and keeps the windows where it finds
  an animal; the first frame is found the same way.
- :class:`DetectionTracker` (``--boxes detector``) matches each frame's
  detections to the animals of the frames before (Hungarian assignment on
  box overlap with a constant-velocity prediction, then on distance). A
  frame without a detection for an animal leaves its row NaN.

States written per frame and slot: ``'followed'`` (box from the frames
before), ``'searched'`` (found by a search on this frame), ``'detected'``,
``'lost'`` (not found: no pose).
"""
import math
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from promptpose_mm.utils.boxes import square_box

FOLLOWED, SEARCHED, DETECTED, LOST = 'followed', 'searched', 'detected', 'lost'
STATES = (FOLLOWED, SEARCHED, DETECTED, LOST, 'frame', 'fixed')
# two padded keypoint squares overlapping more than this show one animal
# (two animals side by side, half a box apart, overlap about 0.35)
SAME_ANIMAL_IOU = 0.5
# a followed box's side stays within animal_side / SIDE_RANGE and
# animal_side * SIDE_RANGE (labelled animals vary about 1.35x around their
# median padded side; a box much larger shows two)
SIDE_RANGE = 1.5

# ``run(images, boxes)``: keypoints ``(B, K, 2)`` and scores ``(B, K)`` of
# one xyxy box in each image (:class:`~promptpose_mm.apis.video.
# TopdownBatch`)
PoseRun = Callable[[Sequence[np.ndarray], Sequence[np.ndarray]],
                   Tuple[np.ndarray, np.ndarray]]


class FrameResults(NamedTuple):
    """What a tracker gives for ``B`` frames and ``N`` animal slots.

    Attributes:
        keypoints (np.ndarray): ``(B, N, K, 2)``, NaN where an animal was
            not found.
        scores (np.ndarray): ``(B, N, K)``, NaN where not found.
        boxes (np.ndarray): ``(B, N, 4)`` xyxy boxes the model ran on, NaN
            where none.
        states (np.ndarray): ``(B, N)`` strings, one of :data:`STATES`.
    """
    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    states: np.ndarray


def empty_results(count: int, animals: int, keypoints: int) -> FrameResults:
    """:class:`FrameResults` of ``count`` frames where none of ``animals``
    was found: NaN everywhere, every state ``'lost'``."""
    return FrameResults(
        np.full((count, animals, keypoints, 2), np.nan),
        np.full((count, animals, keypoints), np.nan),
        np.full((count, animals, 4), np.nan),
        np.full((count, animals), LOST, dtype=object))


def square_xyxy(center: np.ndarray, side: float) -> np.ndarray:
    """The ``(4,)`` float32 xyxy square of ``side`` around ``center``."""
    half = side / 2
    return np.array([
        center[0] - half, center[1] - half, center[0] + half, center[1] + half
    ],
                    dtype=np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(A, B)`` intersection over union of xyxy boxes ``(A, 4)`` and
    ``(B, 4)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(high - low, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


class Pose(NamedTuple):
    """One animal's pose in one crop: ``(K, 2)`` keypoints, ``(K,)``
    scores and the ``(4,)`` box the model ran on."""
    points: np.ndarray
    scores: np.ndarray
    box: np.ndarray


class Track:
    """One followed animal: its box centre, velocity (pixels per frame) and
    side, and the frame it was lost on (None while followed)."""

    def __init__(self, center: np.ndarray, side: float, frame: int):
        self.center = np.asarray(center, np.float64)
        self.velocity = np.zeros(2)
        self.side = float(side)
        self.lost_since: Optional[int] = None
        self.last_frame = frame

    def box(self, frame: int) -> np.ndarray:
        """The xyxy box expected on ``frame`` (constant velocity)."""
        return square_xyxy(
            self.center + self.velocity * (frame - self.last_frame), self.side)


def _run_chunked(run: PoseRun, images: List[np.ndarray],
                 boxes: List[np.ndarray],
                 batch_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """``run`` over many crops, ``batch_size`` at a time."""
    points, scores = [], []
    for start in range(0, len(images), batch_size):
        p, s = run(images[start:start + batch_size],
                   boxes[start:start + batch_size])
        points.append(p)
        scores.append(s)
    return np.concatenate(points), np.concatenate(scores)


class Follower:
    """Follow ``num_animals`` animals through a video with the pose model
    alone (see the module).

    Args:
        run (PoseRun): the pose model on (image, box) pairs.
        num_animals (int): the animals followed (identities).
        padding (float): the box padding per side, a fraction of the side,
            as in training (0 is kept as 0).
        score_thr (float): the score a keypoint must reach to be trusted.
        min_points (int): trusted keypoints needed for "the animal is
            here"; default a quarter of the keypoints, at least 2.
        animal_side (float, optional): the animal's box side in pixels at
            the video's scale (the training boxes' median, from an import);
            None searches at several scales.
        boxes (Sequence, optional): xyxy boxes of the animals on the first
            frame, one per animal; without them the first frame is searched.
        batch_size (int): crops per model call.
        search_every (int): frames between two searches for a lost animal.
        tolerance (float): how far (a fraction of the side) a frame's box
            centre may be from the animal it shows before the frame is run
            again; its side may differ by twice as much. The
            default stays inside the shifts (0.16) and scales (0.75-1.25)
            that MMPose's training augmentation (``RandomBBoxTransform``)
            shows the model.
        rerun_ahead (int): frames run again, from a frame whose box was
            off, on boxes extrapolated anew (later frames keep theirs until
            they are found off in turn).
        ahead (int): frames whose boxes are extrapolated and run in one
            call; the next ones are extrapolated from the last of them
            (further ahead, more boxes miss an animal that changes speed
            and are run again).
        smoothing (float): weight of a frame's own box side in the smoothed
            side (exponential moving average).
        min_side_ratio (float): the side never falls below this fraction of
            ``animal_side`` (or of the side the animal was found with).
    """

    def __init__(self,
                 run: PoseRun,
                 num_animals: int = 1,
                 padding: float = 0.25,
                 score_thr: float = 0.3,
                 min_points: Optional[int] = None,
                 animal_side: Optional[float] = None,
                 boxes: Optional[Sequence[Sequence[float]]] = None,
                 batch_size: int = 16,
                 search_every: int = 5,
                 tolerance: float = 0.15,
                 rerun_ahead: int = 4,
                 ahead: int = 8,
                 smoothing: float = 0.3,
                 min_side_ratio: float = 0.5):
        if boxes is not None and len(boxes):
            num_animals = len(boxes)
        if num_animals < 1:
            raise ValueError(f'follow at least one animal, got {num_animals}')
        if search_every < 1:
            raise ValueError(f'search_every must be >= 1, got {search_every}')
        if padding < 0:
            raise ValueError(f'padding must be >= 0, got {padding}')
        if animal_side is not None and animal_side <= 0:
            raise ValueError(f'animal side must be > 0, got {animal_side}')
        self.run = run
        self.num_animals = num_animals
        self.padding = padding
        self.score_thr = score_thr
        self.min_points = min_points
        self.animal_side = animal_side
        self.batch_size = batch_size
        self.search_every = search_every
        self.tolerance = tolerance
        self.rerun_ahead = rerun_ahead
        self.ahead = ahead
        self.smoothing = smoothing
        self.min_side_ratio = min_side_ratio
        self.tracks: List[Optional[Track]] = [None] * num_animals
        self.lost_since = [0] * num_animals  # of never-found animals
        if boxes is not None and len(boxes):
            for n, box in enumerate(np.asarray(boxes, np.float64)):
                x1, y1, x2, y2 = box
                if not (x2 > x1 and y2 > y1):
                    raise ValueError(f'box {list(box)} is not x1 y1 x2 y2 '
                                     'with x2 > x1 and y2 > y1')
                self.tracks[n] = Track([(x1 + x2) / 2, (y1 + y2) / 2],
                                       max(x2 - x1, y2 - y1), 0)

    # ------------------------------------------------------------ poses ---
    def confident(self, scores: np.ndarray) -> bool:
        """Whether ``(K,)`` scores say the animal is in the crop."""
        need = self.min_points or max(2, math.ceil(len(scores) / 4))
        return int((scores >= self.score_thr).sum()) >= min(need, len(scores))

    def pose_box(self, points: np.ndarray, scores: np.ndarray,
                 floor: float) -> Tuple[np.ndarray, float]:
        """Centre ``(2,)`` and side of the padded square around the
        confident keypoints (:func:`~promptpose_mm.utils.boxes.square_box`,
        as in training), the side at least ``floor``."""
        x, y, side, _ = square_box(points[scores >= self.score_thr],
                                   self.padding)
        return np.array([x + side / 2, y + side / 2]), max(side, floor)

    def animal_box(self, pose: Pose) -> np.ndarray:
        """The xyxy padded square around a pose's confident keypoints."""
        return square_xyxy(*self.pose_box(pose.points, pose.scores, 0.0))

    def floor(self, track: Optional[Track]) -> float:
        reference = self.animal_side or (track.side if track else 0.0)
        return self.min_side_ratio * reference

    def follow_box(self,
                   track: Track,
                   pose: Pose,
                   neighbours: Optional[np.ndarray] = None
                   ) -> Tuple[np.ndarray, float]:
        """Centre ``(2,)`` and side the box of ``track`` moves to.

        The box is the padded square around the confident keypoints within
        half a reference side (``animal_side``, else the track's) of their
        median, centred as the training boxes are, so that keypoints that
        landed on a neighbour neither drag nor grow it; with
        ``neighbours`` (``(M, 2)`` centres of the other animals followed on
        this frame), a keypoint nearer one of them than the centre of the
        crop it came from is left out too. The side moves by at most 1.5
        times a frame, does not shrink while fewer than three quarters of
        the keypoints count (their extent understates the animal's), and
        stays within ``1 / SIDE_RANGE`` and ``SIDE_RANGE`` times
        ``animal_side``. While fewer than three quarters count and other
        animals are followed, the centre moves no further than it takes the
        box to hold them (padded): they show part of the animal, and their
        centre is not the animal's.
        """
        keep = pose.points[pose.scores >= self.score_thr]
        if neighbours is not None and len(neighbours) and len(keep) > 2:
            looked = (pose.box[:2] + pose.box[2:]) / 2
            own = np.linalg.norm(keep - looked, axis=1)
            other = np.linalg.norm(
                keep[:, None] - np.asarray(neighbours)[None], axis=2).min(1)
            if (own <= other).sum() >= 2:
                keep = keep[own <= other]
        middle = np.median(keep, axis=0)
        reach = (self.animal_side or track.side) / 2
        near = keep[np.abs(keep - middle).max(axis=1) <= reach]
        partial = len(near) < 0.75 * len(pose.scores)
        near = near if len(near) >= 2 else keep
        side = float(np.ptp(near, axis=0).max()) * (1 + 2 * self.padding)
        side = min(max(side, track.side / 1.5), track.side * 1.5)
        if partial:
            side = max(side, track.side)
        if self.animal_side:
            side = min(
                max(side, self.animal_side / SIDE_RANGE),
                self.animal_side * SIDE_RANGE)
        side = max(side, self.floor(track), 1.0)
        center = (near.min(axis=0) + near.max(axis=0)) / 2
        if partial and neighbours is not None and len(neighbours):
            # the confident keypoints show part of the animal, and another
            # animal is near: their centre is not the animal's, so the box
            # moves no further than it takes to hold them (padded). Alone,
            # the box centres on them (an animal that jumps between
            # sampled frames is caught up with)
            pad = self.padding * float(np.ptp(near, axis=0).max())
            low = near.max(axis=0) + pad - side / 2
            high = near.min(axis=0) - pad + side / 2
            center = np.where(low <= high, np.clip(track.center, low, high),
                              center)
        return center, side

    def neighbours(self, n: int, frame: int) -> np.ndarray:
        """``(M, 2)`` centres on ``frame`` of the animals followed other
        than ``n``."""
        centers = [
            track.center + track.velocity * (frame - track.last_frame)
            for m, track in enumerate(self.tracks)
            if m != n and track is not None and track.lost_since is None
        ]
        return np.array(centers).reshape(-1, 2)

    def update(self,
               track: Track,
               pose: Pose,
               frame: int,
               neighbours: Optional[np.ndarray] = None) -> None:
        """Move ``track`` to the animal's keypoints on ``frame``."""
        center, side = self.follow_box(track, pose, neighbours)
        steps = frame - track.last_frame
        if track.lost_since is None and steps > 0:
            moved = (center - track.center) / steps
            track.velocity = 0.7 * track.velocity + 0.3 * moved
        else:
            track.velocity = np.zeros(2)
        track.center = center
        track.side = max(
            (1 - self.smoothing) * track.side + self.smoothing * side,
            self.floor(track))
        track.last_frame = frame
        track.lost_since = None

    # ----------------------------------------------------------- search ---
    def search_sides(self, width: int, height: int) -> List[float]:
        """Window sides of a search: the animal's, else the frame's short
        side and its half, quarter and eighth."""
        known = [t.side for t in self.tracks if t is not None]
        if self.animal_side:
            return [float(self.animal_side)]
        if known:
            return [float(np.median(known))]
        short = float(min(width, height))
        return [short / 2**i for i in range(4)]

    def search(
        self,
        frame: np.ndarray,
        exclude: Sequence[Pose] = (),
        near: Sequence[Tuple[np.ndarray, float]] = ()
    ) -> List[Pose]:
        """Animals found on ``frame`` by the pose model over windows, best
        first; none overlapping the animals ``exclude``.

        The windows tile the frame (stride half their side), or, with
        ``near`` (``(centre, side)`` pairs: where lost animals were last
        seen), a 5 x 5 grid of windows of that side around each centre,
        reaching one side away. Each window whose crop shows an animal
        gives a candidate; the candidates are run again on the square
        around their own keypoints, and overlapping ones (IoU above
        :data:`SAME_ANIMAL_IOU`) merged.
        """
        height, width = frame.shape[:2]
        windows = []
        steps = np.linspace(-1, 1, 5)
        for center, side in near:
            for dy in steps:
                for dx in steps:
                    windows.append(
                        square_xyxy(center + side * np.array([dx, dy]), side))
        for side in ([] if near else self.search_sides(width, height)):
            columns = max(1, math.ceil(2 * width / side - 1))
            rows = max(1, math.ceil(2 * height / side - 1))
            for y in (np.arange(rows) + 0.5) * height / rows:
                for x in (np.arange(columns) + 0.5) * width / columns:
                    windows.append(square_xyxy(np.array([x, y]), side))
        candidates = self._candidates(frame, windows)
        if not candidates:
            return []
        refined = [
            square_xyxy(
                *self.pose_box(c.points, c.scores, self._refine_floor(c)))
            for c in candidates
        ]
        found = self._candidates(frame, refined)
        found.sort(key=lambda pose: -float(np.mean(pose.scores)))
        kept: List[Pose] = []
        for pose in found:
            others = [self.animal_box(other) for other in kept + list(exclude)]
            if others and box_iou(self.animal_box(pose),
                                  np.stack(others)).max() > SAME_ANIMAL_IOU:
                continue
            kept.append(pose)
        return kept

    def _refine_floor(self, candidate: Pose) -> float:
        """The least side of a candidate's refined box: its window's, when
        fewer than three quarters of its keypoints are confident (their
        extent understates the animal's), else half of it."""
        side = float(candidate.box[2] - candidate.box[0])
        confident = (candidate.scores >= self.score_thr).sum()
        return side if confident < 0.75 * len(candidate.scores) else side / 2

    def _candidates(self, frame: np.ndarray,
                    boxes: Sequence[np.ndarray]) -> List[Pose]:
        points, scores = _run_chunked(self.run, [frame] * len(boxes),
                                      list(boxes), self.batch_size)
        return [
            Pose(p, s, b) for p, s, b in zip(points, scores, boxes)
            if self.confident(s)
        ]

    # ------------------------------------------------------------ frames ---
    def __call__(self, frames: np.ndarray, start: int) -> FrameResults:
        """Poses of every animal on ``frames`` (``(B, H, W, 3)``, frame
        indices ``start ..``)."""
        count = len(frames)
        results: List[List[Optional[Tuple[Pose,
                                          str]]]] = [[None] * self.num_animals
                                                     for _ in range(count)]
        cache = {}  # (frame in batch, animal) -> Pose

        def speculate(first: int, animals: Sequence[int],
                      frames_ahead: int) -> None:
            """Run ``frames_ahead`` frames from ``first`` of the batch for
            ``animals`` on boxes extrapolated from their tracks, in one
            call."""
            last = min(first + frames_ahead, count)
            pairs = [(t, n) for n in animals for t in range(first, last)]
            if not pairs:
                return
            boxes = [self.tracks[n].box(start + t) for t, n in pairs]
            points, scores = _run_chunked(self.run,
                                          [frames[t] for t, _ in pairs], boxes,
                                          self.batch_size)
            for (t, n), p, s, b in zip(pairs, points, scores, boxes):
                cache[t, n] = Pose(p, s, b)

        def followed() -> List[int]:
            return [
                n for n, track in enumerate(self.tracks)
                if track is not None and track.lost_since is None
            ]

        speculate(0, followed(), self.ahead)
        for t in range(count):
            index = start + t
            row = results[t]
            for n in followed():
                track = self.tracks[n]
                pose = cache.get((t, n))
                if pose is None:  # past the frames run ahead
                    speculate(t, [n], self.ahead)
                    pose = cache[t, n]
                if self._off(
                        pose.box,
                        self._fitting(track, pose, index,
                                      self.neighbours(n, index)), track.side):
                    speculate(t, [n], self.rerun_ahead)
                    pose = cache[t, n]
                if self.confident(pose.scores):
                    row[n] = (pose, FOLLOWED)
                else:
                    track.lost_since = index
            self._separate(row, index)
            for n, item in enumerate(row):
                if item is not None:
                    self.update(self.tracks[n], item[0], index,
                                self.neighbours(n, index))
            due = [
                n for n in range(self.num_animals)
                if self._lost(n) and (index - self._lost_frame(n)) %
                self.search_every == 0
            ]
            if due:
                self._find(frames[t], index, due, row)
                for n in due:  # found: follow from the next frame on
                    if row[n] is not None and t + 1 < count:
                        speculate(t + 1, [n], self.ahead)
        return self._pack(results)

    def _fitting(self,
                 track: Track,
                 pose: Pose,
                 index: int,
                 neighbours: Optional[np.ndarray] = None) -> np.ndarray:
        """The box ``pose``'s crop should have had: around the animal it
        shows, when it shows one, else the one the frame before implies."""
        if self.confident(pose.scores):
            return square_xyxy(*self.follow_box(track, pose, neighbours))
        return track.box(index)

    def _off(self, used: np.ndarray, want: np.ndarray, side: float) -> bool:
        shift = np.abs((used[:2] + used[2:]) / 2 - (want[:2] + want[2:]) / 2)
        sides = abs(float(used[2] - used[0]) - float(want[2] - want[0]))
        return bool(shift.max() > self.tolerance * side
                    or sides > 2 * self.tolerance * side)

    def _lost(self, n: int) -> bool:
        track = self.tracks[n]
        return track is None or track.lost_since is not None

    def _lost_frame(self, n: int) -> int:
        track = self.tracks[n]
        return self.lost_since[n] if track is None else track.lost_since

    def _separate(self, row: List[Optional[Tuple[Pose, str]]],
                  index: int) -> None:
        """Two animals on one: the one whose keypoints moved further from
        where it was expected is lost on this frame."""
        found = [n for n, item in enumerate(row) if item is not None]
        for i, a in enumerate(found):
            for b in found[i + 1:]:
                if row[a] is None or row[b] is None:
                    continue
                if box_iou(
                        self.animal_box(row[a][0]),
                        self.animal_box(row[b][0]))[0, 0] <= SAME_ANIMAL_IOU:
                    continue

                def moved(n: int) -> float:
                    box = self.tracks[n].box(index)
                    center = self.pose_box(row[n][0].points, row[n][0].scores,
                                           0.0)[0]
                    return float(
                        np.linalg.norm(center - (box[:2] + box[2:]) / 2))

                worse = max((a, b), key=moved)
                row[worse] = None
                self.tracks[worse].lost_since = index

    def _find(self, frame: np.ndarray, index: int, due: Sequence[int],
              row: List[Optional[Tuple[Pose, str]]]) -> None:
        """Search ``frame`` for the animals ``due`` and give each the
        nearest animal found (where it was last seen), new ones in order of
        confidence."""
        exclude = [item[0] for item in row if item is not None]
        known = [n for n in due if self.tracks[n] is not None]
        # first around where they were last seen, then the whole frame
        found = self.search(frame, exclude,
                            [(self.tracks[n].center, self.tracks[n].side)
                             for n in known])
        if len(found) < len(due):
            found = self.search(frame, exclude)
        if not found:
            return
        from scipy.optimize import linear_sum_assignment
        centers = np.array([
            self.pose_box(pose.points, pose.scores, 0.0)[0] for pose in found
        ])
        cost = np.array([[
            float(np.linalg.norm(self.tracks[n].center - c)) for c in centers
        ] for n in known]).reshape(len(known), len(found))
        taken = set()
        for i, j in zip(*linear_sum_assignment(cost)):
            self._adopt(known[i], found[j], index, row)
            taken.add(j)
        free = [j for j in range(len(found)) if j not in taken]
        for n, j in zip([n for n in due if self.tracks[n] is None], free):
            self._adopt(n, found[j], index, row)

    def _adopt(self, n: int, pose: Pose, index: int,
               row: List[Optional[Tuple[Pose, str]]]) -> None:
        track = self.tracks[n]
        if track is None:
            center, side = self.pose_box(pose.points, pose.scores,
                                         self.floor(None))
            track = self.tracks[n] = Track(center, side, index)
        self.update(track, pose, index)
        row[n] = (pose, SEARCHED)

    def _pack(self, results) -> FrameResults:
        out = empty_results(
            len(results), self.num_animals, self.run.num_keypoints)
        for t, row in enumerate(results):
            for n, item in enumerate(row):
                if item is not None:
                    pose, state = item
                    out.keypoints[t, n] = pose.points
                    out.scores[t, n] = pose.scores
                    out.boxes[t, n] = pose.box
                    out.states[t, n] = state
        return out


class DetectionTracker:
    """Identities for a detector's boxes: each frame's detections matched to
    the animals of the frames before.

    Args:
        max_animals (int, optional): the most identities; a detection
            beyond them goes to the nearest lost animal. None: unlimited.
        min_iou (float): the least overlap of a detection with an animal's
            predicted box to be matched on overlap; others are matched by
            distance (within two box sides).
    """

    def __init__(self,
                 max_animals: Optional[int] = None,
                 min_iou: float = 0.1):
        self.max_animals = max_animals
        self.min_iou = min_iou
        self.tracks: List[Track] = []
        self.boxes: List[np.ndarray] = []

    def __call__(self, detections: np.ndarray, index: int) -> np.ndarray:
        """The slot of each of the ``(D, 4)`` xyxy detections on frame
        ``index``: ``(D,)`` int, -1 for a detection left out (more than
        ``max_animals``)."""
        from scipy.optimize import linear_sum_assignment
        detections = np.asarray(detections, np.float64).reshape(-1, 4)
        slots = np.full(len(detections), -1)
        if not len(detections):
            return slots
        predicted = [
            self._predicted(n, index) for n in range(len(self.tracks))
        ]
        centers = (detections[:, :2] + detections[:, 2:]) / 2
        if predicted:
            iou = box_iou(np.stack(predicted), detections)
            rows, cols = linear_sum_assignment(-iou)
            for i, j in zip(rows, cols):
                if iou[i, j] >= self.min_iou:
                    slots[j] = i
            free_tracks = [
                n for n in range(len(self.tracks)) if n not in set(slots)
            ]
            free = np.flatnonzero(slots < 0)
            if len(free_tracks) and len(free):
                distance = np.array([[
                    np.linalg.norm(self.tracks[n].center +
                                   self.tracks[n].velocity *
                                   (index - self.tracks[n].last_frame) -
                                   centers[j]) for j in free
                ] for n in free_tracks])
                rows, cols = linear_sum_assignment(distance)
                for i, j in zip(rows, cols):
                    n = free_tracks[i]
                    near = 2 * self.tracks[n].side
                    full = self.max_animals is not None and len(
                        self.tracks) >= self.max_animals
                    if distance[i, j] <= near or full:
                        slots[free[j]] = n
        for j in np.flatnonzero(slots < 0):
            if self.max_animals is None or len(self.tracks) < self.max_animals:
                x1, y1, x2, y2 = detections[j]
                self.tracks.append(
                    Track([(x1 + x2) / 2, (y1 + y2) / 2],
                          max(x2 - x1, y2 - y1), index))
                self.boxes.append(detections[j])
                slots[j] = len(self.tracks) - 1
        for j, n in enumerate(slots):
            if n >= 0:
                self._move(int(n), detections[j], index)
        return slots

    def _predicted(self, n: int, index: int) -> np.ndarray:
        track, box = self.tracks[n], self.boxes[n]
        shift = track.velocity * (index - track.last_frame)
        return np.concatenate([box[:2] + shift, box[2:] + shift])

    def _move(self, n: int, box: np.ndarray, index: int) -> None:
        track = self.tracks[n]
        center = (box[:2] + box[2:]) / 2
        steps = index - track.last_frame
        if steps > 0:
            track.velocity = 0.5 * track.velocity + 0.5 * (
                center - track.center) / steps
        track.center = center
        track.side = float(max(box[2] - box[0], box[3] - box[1]))
        track.last_frame = index
        self.boxes[n] = box
