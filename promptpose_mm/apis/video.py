"""Pose estimation over a whole video, frame batches at a time.

Frames are decoded by sleap-io (imageio-ffmpeg: mp4, avi, ... of any size)
in a background thread while the model runs on the previous batch. Each
frame gets its boxes from one of :data:`BOX_SOURCES`:

- ``'frame'``: the whole frame (a model trained on whole frames, such as
  an import with ``--box frame``);
- ``'fixed'``: the same given boxes on every frame;
- ``'track'``: animals followed from frame to frame by the pose model
  alone, searched for when lost (:class:`~.tracking.Follower`);
- ``'detector'``: an mmdet detector on every frame, several animals, their
  identities kept from frame to frame (:class:`~.tracking.
  DetectionTracker`).

Every frame gets a row per animal: its keypoints, the box used and a state
(:data:`~.tracking.STATES`); an animal not found on a frame is NaN there,
never a guess.

:func:`default_box_source` reads how a model was trained (the
``label_import`` record of an imported data set) and
:func:`box_source_warning` says when a choice does not match it: a model
trained on crops around an animal, run on whole frames, sees the animal at
a scale it never learned and misses most keypoints.

Inference goes through the model's own test pipeline and ``test_step``
(flip test as configured), on many (frame, box) pairs at once; the results
equal MMPose's ``inference_topdown`` frame by frame.
"""
import os.path as osp
import queue
import threading
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from torch import nn

from .tracking import (DETECTED, DetectionTracker, Follower, FrameResults,
                       empty_results)

BOX_SOURCES = ('frame', 'fixed', 'track', 'detector')


class VideoError(ValueError):
    """A video that cannot be analysed; the message names the file."""


class VideoPrediction(NamedTuple):
    """What the model found on every frame of one video.

    Attributes:
        keypoints (np.ndarray): ``(T, N, K, 2)`` pixel coordinates of up to
            ``N`` animals per frame (slot ``n`` is one animal throughout),
            NaN where an animal was not found.
        scores (np.ndarray): ``(T, N, K)`` keypoint scores, NaN where not
            found.
        boxes (np.ndarray): ``(T, N, 4)`` the boxes used, xyxy, NaN where
            none.
        states (np.ndarray): ``(T, N)`` how each animal's box was found
            (:data:`~.tracking.STATES`).
        fps (float): the video's frame rate (0 when unknown).
        complete (bool): False when the run stopped early (Ctrl-C or a
            frame that cannot be decoded): ``T`` is the number of frames
            done.
        error (str, optional): why it stopped, when a frame could not be
            decoded.
        dropped (int): detections left out because every identity
            (``num_animals``) was taken on their frame.
    """
    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    states: np.ndarray
    fps: float
    complete: bool = True
    error: Optional[str] = None
    dropped: int = 0


def open_video(path: str):
    """The video as a ``sleap_io.Video``, with clear errors.

    Raises:
        FileNotFoundError: no such file.
        VideoError: it cannot be decoded, or has no frames.
    """
    import sleap_io as sio
    if not osp.isfile(path):
        raise FileNotFoundError(f'video {path} does not exist')
    try:
        video = sio.load_video(path)
        frames = len(video)
        if frames:
            video[0]
    except Exception as error:  # decoders raise many kinds
        raise VideoError(
            f'video {path} cannot be decoded ({type(error).__name__}: '
            f'{error}); is it a complete mp4/avi file? Re-encode it, e.g. '
            'ffmpeg -i in.avi -c:v libx264 out.mp4') from None
    if not frames:
        raise VideoError(f'video {path} has no frames')
    return video


def video_fps(video) -> float:
    try:
        return float(video.fps or 0.0)
    except Exception:  # not every backend knows its rate
        return 0.0


def iter_frame_batches(video,
                       batch_size: int,
                       prefetch: int = 2) -> Iterator[Tuple[int, np.ndarray]]:
    """``(first index, (B, H, W, 3) BGR uint8 frames)`` batches, decoded in
    a background thread ``prefetch`` batches ahead.

    Raises:
        VideoError: a frame cannot be decoded (a truncated file), after the
            frames before it; the message names the file and the frame.
    """
    total = len(video)
    batches: 'queue.Queue' = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def decode() -> None:
        for start in range(0, total, batch_size):
            if stop.is_set():
                return
            frames = []
            for index in range(start, min(start + batch_size, total)):
                try:
                    frames.append(to_bgr(video[index]))
                except Exception as error:  # decoders raise many kinds
                    if frames:  # the frames before it are kept
                        batches.put((start, np.stack(frames)))
                    batches.put(
                        VideoError(f'video {video.filename}: frame {index} '
                                   'cannot be decoded ('
                                   f'{type(error).__name__}: {error}); the '
                                   'file may be truncated: re-encode it or '
                                   'cut it before that frame'))
                    return
            batches.put((start, np.stack(frames)))
        batches.put(None)

    worker = threading.Thread(target=decode, daemon=True)
    worker.start()
    try:
        while True:
            item = batches.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting to put
            try:
                batches.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def to_bgr(frame: np.ndarray) -> np.ndarray:
    """An ``(H, W, 3)`` BGR uint8 image from sleap-io's RGB or grey frame."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.shape[-1] == 1:
        return np.repeat(frame, 3, axis=-1)
    return np.ascontiguousarray(frame[..., 2::-1])


class TopdownBatch:
    """The model's test pipeline and ``test_step`` on many crops at once.

    Args:
        model (nn.Module): a top-down pose model with ``cfg`` and
            ``dataset_meta`` (from ``init_model``), in eval mode.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        cfg: Config = model.cfg
        # MMPose's transforms, whatever scope a detector left current
        with DefaultScope.overwrite_default_scope('mmpose'):
            self.pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
        self.meta = model.dataset_meta or {}
        self.num_keypoints = int(self.meta.get('num_keypoints', 0)) or int(
            cfg.model.head.out_channels)

    def __call__(self, images: Sequence[np.ndarray],
                 boxes: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(B, K, 2)`` and scores ``(B, K)`` of one box
        (xyxy ``(4,)``) in each BGR image."""
        import torch
        if not len(images):
            return (np.zeros(
                (0, self.num_keypoints, 2)), np.zeros((0, self.num_keypoints)))
        data = []
        for image, box in zip(images, boxes):
            item = dict(
                img=image,
                bbox=np.asarray(box, dtype=np.float32)[None],
                bbox_score=np.ones(1, dtype=np.float32))
            item.update(self.meta)
            data.append(self.pipeline(item))
        with torch.no_grad():
            samples = self.model.test_step(pseudo_collate(data))
        keypoints = np.stack([s.pred_instances.keypoints[0] for s in samples])
        scores = np.stack(
            [s.pred_instances.keypoint_scores[0] for s in samples])
        return keypoints.astype(np.float64), scores.astype(np.float64)


def analyze_video(model: nn.Module,
                  path: str,
                  box_source: str = 'frame',
                  boxes: Optional[Sequence[Sequence[float]]] = None,
                  detect=None,
                  batch_size: int = 16,
                  score_thr: float = 0.3,
                  padding: float = 0.25,
                  progress: bool = True,
                  num_animals: Optional[int] = None,
                  animal_side: Optional[float] = None,
                  search_every: int = 5) -> VideoPrediction:
    """Run a top-down pose model over every frame of a video.

    Args:
        model (nn.Module): from ``init_model`` (eval mode, with ``cfg``).
        path (str): the video file.
        box_source (str): one of :data:`BOX_SOURCES` (see the module).
        boxes (Sequence, optional): xyxy boxes: every frame's for
            ``'fixed'``; for ``'track'`` the animals on the first frame
            (one box each; without them the first frame is searched).
        detect (callable, optional): ``detect(bgr image) -> (N, 4)`` xyxy
            boxes, for ``'detector'``.
        batch_size (int): frames per model call.
        score_thr (float): the keypoint score that counts as found.
        padding (float): the box padding per side, as trained.
        progress (bool): show a tqdm bar with frames per second.
        num_animals (int, optional): ``'track'``: the animals followed
            (default: one per box, else 1); ``'detector'``: the most
            identities (default: unlimited).
        animal_side (float, optional): the animal's box side in pixels, for
            the ``'track'`` search (default: several scales).
        search_every (int): ``'track'``: frames between two searches for
            a lost animal.

    Returns:
        VideoPrediction: per frame and animal slot; when a frame cannot be
        decoded, or on Ctrl-C, the frames done with ``complete=False``.
    """
    if box_source not in BOX_SOURCES:
        raise ValueError(f'box source must be one of {BOX_SOURCES}, got '
                         f'{box_source!r}')
    if box_source == 'fixed' and not boxes:
        raise ValueError("box source 'fixed' needs boxes (x1 y1 x2 y2)")
    if box_source == 'detector' and detect is None:
        raise ValueError("box source 'detector' needs a detector")
    if batch_size < 1:
        raise ValueError(f'batch size must be >= 1, got {batch_size}')
    from tqdm import tqdm
    video = open_video(path)
    run = TopdownBatch(model)
    if box_source == 'track':
        step = Follower(
            run,
            num_animals=num_animals or 1,
            padding=padding,
            score_thr=score_thr,
            animal_side=animal_side,
            boxes=boxes,
            batch_size=batch_size,
            search_every=search_every)
    elif box_source == 'detector':
        step = DetectorFrames(run, detect, DetectionTracker(num_animals))
    else:
        step = GivenBoxes(run, None if box_source == 'frame' else boxes)
    parts: List[FrameResults] = []
    bar = tqdm(
        total=len(video),
        unit='frame',
        disable=not progress,
        desc=osp.basename(path))
    complete, error = True, None
    try:
        for start, frames in iter_frame_batches(video, batch_size):
            parts.append(step(frames, start))
            bar.update(len(frames))
    except KeyboardInterrupt:
        complete = False
    except VideoError as stopped:
        complete, error = False, str(stopped)
    finally:
        bar.close()
    return VideoPrediction(*join_results(parts, run.num_keypoints),
                           video_fps(video), complete, error,
                           getattr(step, 'dropped', 0))


class GivenBoxes:
    """Frames with the same boxes on each: ``boxes`` (``'fixed'``) or the
    whole frame (``boxes=None``)."""

    def __init__(self, run: TopdownBatch,
                 boxes: Optional[Sequence[Sequence[float]]]):
        self.run = run
        self.boxes = None if boxes is None else np.asarray(
            boxes, np.float32).reshape(-1, 4)

    def __call__(self, frames: np.ndarray, start: int) -> FrameResults:
        height, width = frames.shape[1:3]
        boxes = self.boxes if self.boxes is not None else np.array(
            [[0, 0, width, height]], np.float32)
        count, slots = len(frames), len(boxes)
        points, scores = self.run([frame for frame in frames for _ in boxes],
                                  [box for _ in frames for box in boxes])
        state = 'frame' if self.boxes is None else 'fixed'
        return FrameResults(
            points.reshape(count, slots, -1, 2),
            scores.reshape(count, slots, -1),
            np.broadcast_to(boxes, (count, slots, 4)).astype(np.float64),
            np.full((count, slots), state, dtype=object))


class DetectorFrames:
    """A detector's boxes on every frame, each animal kept in its slot by
    ``tracker``; an animal without a detection is NaN on that frame."""

    def __init__(self, run: TopdownBatch, detect, tracker: DetectionTracker):
        self.run = run
        self.detect = detect
        self.tracker = tracker
        self.dropped = 0

    def __call__(self, frames: np.ndarray, start: int) -> FrameResults:
        found = []
        for t, frame in enumerate(frames):
            detections = np.asarray(self.detect(frame),
                                    np.float32).reshape(-1, 4)
            slots = self.tracker(detections, start + t)
            self.dropped += int((slots < 0).sum())
            found += [(t, int(n), box) for n, box in zip(slots, detections)
                      if n >= 0]
        points, scores = self.run([frames[t] for t, _, _ in found],
                                  [box for _, _, box in found])
        count, slots = len(frames), max(len(self.tracker.tracks), 1)
        out = empty_results(count, slots, self.run.num_keypoints)
        for (t, n, box), p, s in zip(found, points, scores):
            out.keypoints[t, n] = p
            out.scores[t, n] = s
            out.boxes[t, n] = box
            out.states[t, n] = DETECTED
        return out


def join_results(parts: Sequence[FrameResults],
                 num_keypoints: int) -> FrameResults:
    """Batches of frames joined, with as many animal slots as the batch
    with the most; the slots a batch lacks are NaN and ``'lost'``."""
    slots = max([part.states.shape[1] for part in parts] + [1])
    count = sum(len(part.states) for part in parts)
    out = empty_results(count, slots, num_keypoints)
    start = 0
    for part in parts:
        stop, width = start + len(part.states), part.states.shape[1]
        out.keypoints[start:stop, :width] = part.keypoints
        out.scores[start:stop, :width] = part.scores
        out.boxes[start:stop, :width] = part.boxes
        out.states[start:stop, :width] = part.states
        start = stop
    return out


def default_box_source(cfg: Config) -> Tuple[str, str]:
    """The box source that matches how the model was trained, and why.

    An imported data set records its box mode (``label_import``): whole
    frames train a whole-frame model; boxes around the animal (and every
    dataset with annotated boxes, such as AP-10K) train a crop model,
    followed by ``'track'``.
    """
    record = cfg.get('label_import') or {}
    if record.get('box_mode') == 'frame':
        return 'frame', 'the model was trained on whole frames'
    if record.get('box_mode') == 'animal':
        return 'track', ('the model was trained on boxes around the animal '
                         f'(padding {record.get("padding")})')
    return 'track', 'the model was trained on annotated animal boxes'


def box_source_warning(cfg: Config, box_source: str) -> Optional[str]:
    """A warning when ``box_source`` does not match the training boxes."""
    expected, why = default_box_source(cfg)
    if box_source == 'frame' and expected != 'frame':
        return (f'boxes: whole frames, but {why}: the animal appears at a '
                'scale the model never learned and most keypoints will be '
                'missed; use --boxes track (one animal), --boxes fixed or a '
                'detector')
    if expected == 'frame' and box_source != 'frame':
        return (f'boxes: {box_source}, but {why}: crops show the animal '
                'larger than in training; use --boxes frame')
    return None
