"""Pose estimation over a whole video, frame batches at a time.

Frames are decoded by sleap-io (imageio-ffmpeg: mp4, avi, ... of any size)
in a background thread while the model runs on the previous batch. Each
frame gets its boxes from one of :data:`BOX_SOURCES`:

- ``'frame'``: the whole frame (a model trained on whole frames, such as
  an import with ``--box frame``);
- ``'fixed'``: the same given boxes on every frame;
- ``'track'``: one animal followed: the first frame's box is given (or the
  whole frame, refined once by the keypoints found in it); every next
  batch uses the square around the confident keypoints of the previous
  frame, padded as in training (:func:`~promptpose_mm.utils.boxes.
  square_box`). With ``batch_size`` B, a box is at most B frames old;
- ``'detector'``: an mmdet detector on every frame, several animals.

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

from promptpose_mm.utils.boxes import square_box

BOX_SOURCES = ('frame', 'fixed', 'track', 'detector')


class VideoError(ValueError):
    """A video that cannot be analysed; the message names the file."""


class VideoPrediction(NamedTuple):
    """What the model found on every frame of one video.

    Attributes:
        keypoints (np.ndarray): ``(T, N, K, 2)`` pixel coordinates of up to
            ``N`` animals per frame, NaN where a slot is empty.
        scores (np.ndarray): ``(T, N, K)`` keypoint scores, NaN where empty.
        boxes (np.ndarray): ``(T, N, 4)`` the boxes used, xyxy, NaN where
            empty.
        fps (float): the video's frame rate (0 when unknown).
        complete (bool): False when the run was interrupted: ``T`` is the
            number of frames done.
    """
    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    fps: float
    complete: bool = True


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
        VideoError: a frame cannot be decoded (a truncated file); the
            message names the file and the frame.
    """
    total = len(video)
    batches: 'queue.Queue' = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def decode() -> None:
        for start in range(0, total, batch_size):
            if stop.is_set():
                return
            try:
                frames = np.stack([
                    to_bgr(video[i])
                    for i in range(start, min(start + batch_size, total))
                ])
            except Exception as error:  # decoders raise many kinds
                batches.put(
                    VideoError(f'video {video.filename}: frame {start} or '
                               f'the next cannot be decoded '
                               f'({type(error).__name__}: {error}); the '
                               'file may be truncated'))
                return
            batches.put((start, frames))
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


def track_box(points: np.ndarray, scores: np.ndarray, score_thr: float,
              padding: float, previous: np.ndarray,
              frame_size: Tuple[int, int]) -> np.ndarray:
    """The next xyxy box of a followed animal: the padded square around its
    keypoints scoring at least ``score_thr`` (two or more), else
    ``previous``; clipped to stay overlapping the frame."""
    confident = points[scores >= score_thr]
    if len(confident) < 2:
        return previous
    x, y, w, h = square_box(confident, padding)
    width, height = frame_size
    x = float(np.clip(x, -w / 2, width - w / 2))
    y = float(np.clip(y, -h / 2, height - h / 2))
    return np.array([x, y, x + w, y + h], dtype=np.float32)


def analyze_video(model: nn.Module,
                  path: str,
                  box_source: str = 'frame',
                  boxes: Optional[Sequence[Sequence[float]]] = None,
                  detect=None,
                  batch_size: int = 16,
                  score_thr: float = 0.3,
                  padding: float = 0.25,
                  progress: bool = True) -> VideoPrediction:
    """Run a top-down pose model over every frame of a video.

    Args:
        model (nn.Module): from ``init_model`` (eval mode, with ``cfg``).
        path (str): the video file.
        box_source (str): one of :data:`BOX_SOURCES` (see the module).
        boxes (Sequence, optional): xyxy boxes: every frame's for
            ``'fixed'``, the first frame's (one) for ``'track'``.
        detect (callable, optional): ``detect(bgr image) -> (N, 4)`` xyxy
            boxes, for ``'detector'``.
        batch_size (int): frames per model call.
        score_thr (float): the keypoint score a tracked box trusts.
        padding (float): the tracked box's padding per side (as trained).
        progress (bool): show a tqdm bar with frames per second.

    Returns:
        VideoPrediction: per frame and animal slot; on Ctrl-C, the frames
        done with ``complete=False``.
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
    total = len(video)
    run = TopdownBatch(model)
    keypoints: List[np.ndarray] = []
    scores: List[np.ndarray] = []
    used: List[np.ndarray] = []
    followed = None
    if box_source == 'track' and boxes:
        followed = np.asarray(boxes[0], dtype=np.float32)
    bar = tqdm(
        total=total,
        unit='frame',
        disable=not progress,
        desc=osp.basename(path))
    complete = True
    try:
        for start, frames in iter_frame_batches(video, batch_size):
            height, width = frames.shape[1:3]
            whole = np.array([0, 0, width, height], dtype=np.float32)
            if box_source == 'track' and followed is None:
                # the first frame: the whole frame, refined by what it finds
                points, found = run([frames[0]], [whole])
                followed = track_box(points[0], found[0], score_thr, padding,
                                     whole, (width, height))
            per_frame = []
            for frame in frames:
                if box_source == 'frame':
                    per_frame.append(whole[None])
                elif box_source == 'fixed':
                    per_frame.append(np.asarray(boxes, dtype=np.float32))
                elif box_source == 'track':
                    per_frame.append(followed[None])
                else:
                    found_boxes = np.asarray(detect(frame), np.float32)
                    per_frame.append(found_boxes.reshape(-1, 4))
            flat_images = [
                frame for frame, fb in zip(frames, per_frame) for _ in fb
            ]
            flat_boxes = [box for fb in per_frame for box in fb]
            points, found = run(flat_images, flat_boxes)
            offset = 0
            for fb in per_frame:
                count = len(fb)
                keypoints.append(points[offset:offset + count])
                scores.append(found[offset:offset + count])
                used.append(fb)
                offset += count
            if box_source == 'track':
                followed = track_box(keypoints[-1][0], scores[-1][0],
                                     score_thr, padding, followed,
                                     (width, height))
            bar.update(len(frames))
    except KeyboardInterrupt:
        complete = False
    finally:
        bar.close()
    slots = max([len(k) for k in keypoints] + [1])
    k = run.num_keypoints
    out_points = np.full((len(keypoints), slots, k, 2), np.nan)
    out_scores = np.full((len(keypoints), slots, k), np.nan)
    out_boxes = np.full((len(keypoints), slots, 4), np.nan)
    for t, (p, s, b) in enumerate(zip(keypoints, scores, used)):
        out_points[t, :len(p)] = p
        out_scores[t, :len(s)] = s
        out_boxes[t, :len(b)] = b
    return VideoPrediction(out_points, out_scores, out_boxes, video_fps(video),
                           complete)


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
