"""How well the video tool's poses match ground-truth labels of the video.

LABELS is a SLEAP labels file (``.slp``: the user-labelled instances of
its video, identities from their tracks in the file's track order; the
video is the one the labels refer to, or --video) or a DeepLabCut project
folder (the labelled frames of one ``labeled-data/<name>`` folder,
--video-folder or the first, written in file order as a lossless video;
frames of several sizes are padded right and bottom to the largest).
--frames START:STOP evaluates only those frames (cut into a lossless
video first).

The same model runs twice: ``tools/analyze_video.py`` with its defaults
(its boxes, its tracking), whose DeepLabCut ``.h5`` is read back, and on
ground-truth boxes (the square around each labelled animal's points,
padded --padding a side as in training). Frame by frame, predicted animals
are matched to the labelled ones (Hungarian, mean keypoint distance); an
animal is found when its mean error is at most half the side of its box.
Prints a Markdown table (frames, animals found %, median error, errors
within 10 px and over 50 px, identity swaps), also written to --out-dir::

    python tools/analysis/video_against_labels.py session1.slp \\
        --config work_dirs/mouse/CONFIG.py \\
        --checkpoint work_dirs/mouse/best_coco_AP_epoch_200.pth
    python tools/analysis/video_against_labels.py PROJECT_DIR \\
        --video-folder reachingvideo1 --frames 0:100 --config C \\
        --checkpoint K --out-dir work_dirs/against_labels
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from promptpose_mm.io.video import write_lossless_video

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)
RUNS = ('video tool (defaults)', 'ground-truth boxes')
# crops per model call on the ground-truth boxes
CROPS_PER_CALL = 32
# the frame rate of a video written from DeepLabCut's frames
WRITTEN_FPS = 30.0
FrameRange = Tuple[int, Optional[int]]


class Truth(NamedTuple):
    """The labelled animals of the video the tools analyse.

    Attributes:
        video (str): the video file (the labels' own, or one written).
        points (np.ndarray): ``(T, M, K, 2)`` labelled points per frame of
            ``video`` and animal, NaN where unlabelled.
        animals (list[str]): the ``M`` animal names.
        bodyparts (list[str]): the ``K`` keypoint names.
        start (int): the first frame of the labels' video it shows.
        source (str): where the frames come from, for messages.
    """
    video: str
    points: np.ndarray
    animals: List[str]
    bodyparts: List[str]
    start: int
    source: str


def frame_range(text: str) -> FrameRange:
    """``START:STOP`` as ``(start, stop)``; START defaults to 0 and STOP
    (exclusive) to the end (None)."""
    start, colon, stop = text.partition(':')
    try:
        if not colon:
            raise ValueError(text)
        first = int(start) if start.strip() else 0
        last = int(stop) if stop.strip() else None
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not START:STOP (frame indices, STOP excluded, '
            'e.g. 0:500)') from None
    if first < 0 or (last is not None and last <= first):
        raise argparse.ArgumentTypeError(
            f'{text!r}: frames START:STOP need 0 <= START < STOP')
    return first, last


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = cli.tool_parser(__doc__)
    parser.add_argument(
        'labels',
        metavar='LABELS',
        help='SLEAP labels file (.slp) or DeepLabCut project folder')
    parser.add_argument(
        '--video',
        help='the video the SLEAP labels were made on (default: the one '
        'the file refers to)')
    parser.add_argument(
        '--video-folder',
        metavar='NAME',
        help='DeepLabCut: the labeled-data folder (default: the first)')
    parser.add_argument(
        '--frames',
        type=frame_range,
        metavar='START:STOP',
        help='evaluate only these frames (STOP excluded)')
    cli.add_pose_model(parser)
    parser.add_argument(
        '--batch-size',
        type=int,
        default=16,
        help='frames per model call of the video tool (16)')
    parser.add_argument(
        '--padding',
        type=float,
        help="the ground-truth boxes' growth per side, a fraction of the "
        "side (default: the config's label_import.padding, else 0.25)")
    cli.add_out_dir(parser, 'work_dirs/video_against_labels')
    args = parser.parse_args(argv)
    cli.check_backend(parser, args)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.padding is not None and args.padding < 0:
        parser.error(f'--padding must be >= 0, got {args.padding}')
    return args


def box_padding(cfg, padding: Optional[float]) -> float:
    """The ground-truth boxes' padding: ``padding`` when given (0 too),
    else the config's ``label_import.padding``, else 0.25."""
    if padding is not None:
        return float(padding)
    recorded = (cfg.get('label_import') or {}).get('padding')
    return 0.25 if recorded is None else float(recorded)


def check_range(frames: Optional[FrameRange], total: int,
                what: str) -> Tuple[int, int]:
    """``--frames`` within ``total`` frames, as ``(start, stop)``; an
    error names ``what`` when it is outside."""
    if frames is None:
        return 0, total
    start, stop = frames
    stop = total if stop is None else stop
    if start >= total or stop > total:
        sys.exit(f'error: --frames {start}:{stop} is outside {what}, which '
                 f'has {total} frames; give a range within 0:{total}')
    return start, stop


def to_rgb(frame) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB image from sleap-io's RGB or grey
    frame."""
    from promptpose_mm.apis.video import to_bgr
    return np.ascontiguousarray(to_bgr(frame)[..., ::-1])


def deeplabcut_truth(root: str, folder: Optional[str],
                     frames: Optional[FrameRange], work: str) -> Truth:
    """The labelled frames of one ``labeled-data`` folder, written in file
    order as a lossless video into ``work``."""
    from PIL import Image

    from promptpose_mm.io.deeplabcut import read_deeplabcut_project
    from promptpose_mm.io.labels import LabelError
    try:
        project = read_deeplabcut_project(root)
    except (LabelError, FileNotFoundError) as error:
        sys.exit(f'error: {error}')
    folders = list(dict.fromkeys(frame.video for frame in project.frames))
    name = folder or folders[0]
    if name not in folders:
        sys.exit(f'error: {root}: no labelled frames in labeled-data/{name}; '
                 f'--video-folder is one of {folders}')
    in_folder = [frame for frame in project.frames if frame.video == name]
    # the identities of the whole folder, whatever the range
    animals = list(
        dict.fromkeys(track for frame in in_folder for track in frame.tracks))
    start, stop = check_range(
        frames, len(in_folder),
        f'{root}/labeled-data/{name} (labelled frames in file order)')
    selected = in_folder[start:stop]
    points = np.full((len(selected), len(animals), len(project.bodyparts), 2),
                     np.nan)
    for t, frame in enumerate(selected):
        for track, instance in zip(frame.tracks, frame.instances):
            points[t, animals.index(track)] = instance
    width = max(frame.width for frame in selected)
    height = max(frame.height for frame in selected)

    def images() -> Iterator[np.ndarray]:
        for frame in selected:
            with Image.open(osp.join(project.image_root,
                                     frame.file_name)) as file:
                image = np.asarray(file.convert('RGB'))
            canvas = np.zeros((height, width, 3), dtype=np.uint8)
            canvas[:image.shape[0], :image.shape[1]] = image
            yield canvas

    cut = '' if frames is None else f'_{start}-{stop}'
    video = write_lossless_video(
        osp.join(work, f'{name}{cut}.avi'), images(), (width, height),
        WRITTEN_FPS)
    return Truth(
        video, points,
        [track or f'animal {i + 1}' for i, track in enumerate(animals)],
        list(project.bodyparts), start, f'{root}/labeled-data/{name}')


def _labels_video(path: str, target, video: Optional[str]):
    """The labels' video as a sleap-io ``Video``, a name for messages,
    and its file (None for an image sequence)."""
    from promptpose_mm.apis.video import VideoError, open_video
    if video is None:
        source = target.source_video or target
        filename = source.filename
        if isinstance(filename, (list, tuple)):  # an image sequence
            missing = [name for name in filename if not osp.isfile(name)]
            if missing:
                sys.exit(f'error: {path} refers to the image {missing[0]} '
                         f'({len(missing)} of its {len(filename)} images '
                         'missing); pass --video PATH, the video the labels '
                         'were made on')
            return source, f'the images of {path}', None
        video = str(filename)
        if osp.abspath(video) == osp.abspath(path) or not osp.isfile(video):
            sys.exit(f'error: {path} refers to the video {video}, which '
                     'cannot be found; pass --video PATH, the video the '
                     'labels were made on')
    try:
        return open_video(video), video, video
    except FileNotFoundError:
        sys.exit(f'error: --video {video} does not exist; pass the video '
                 f'the labels of {path} were made on')
    except VideoError as error:
        sys.exit(f'error: {error}')


def sleap_truth(path: str, video: Optional[str], frames: Optional[FrameRange],
                work: str) -> Truth:
    """The user-labelled instances of a SLEAP file's (first labelled)
    video; a range or an image sequence is written as a lossless video
    into ``work``."""
    import sleap_io as sio

    from promptpose_mm.apis.video import video_fps
    try:
        labels = sio.load_slp(path)
    except Exception as error:  # h5py/sleap-io raise many kinds
        sys.exit(f'error: {path} is not a readable SLEAP labels file '
                 f'({type(error).__name__}: {error}); export it again from '
                 'SLEAP')
    if len(labels.skeletons) != 1:
        sys.exit(f'error: {path} has {len(labels.skeletons)} skeletons; keep '
                 'the one the model was trained on')
    bodyparts = [str(name) for name in labels.skeletons[0].node_names]
    user = [lf for lf in labels.labeled_frames if lf.user_instances]
    if not user:
        sys.exit(f'error: {path} has no user-labelled frames; give the '
                 'labels file, not a predictions file')
    index = [labels.videos.index(lf.video) for lf in user]
    target = labels.videos[min(index)]
    if len(set(index)) > 1:
        from mmengine.logging import print_log
        print_log(
            f'warning: {path} labels {len(set(index))} videos; measuring '
            f'the first, {target.filename}',
            logger='current',
            level=30)
    user = [lf for lf, i in zip(user, index) if i == min(index)]
    source, name, file = _labels_video(path, target, video)
    total = len(source)
    beyond = [int(lf.frame_idx) for lf in user if lf.frame_idx >= total]
    if beyond:
        sys.exit(f'error: {path} labels frame {beyond[0]}, but {name} has '
                 f'{total} frames; pass --video PATH, the video the labels '
                 'were made on')
    start, stop = check_range(frames, total, name)
    user = [lf for lf in user if start <= lf.frame_idx < stop]
    if not user:
        sys.exit(f'error: no user-labelled frame of {path} in --frames '
                 f'{start}:{stop}; choose a range with labelled frames')
    tracks = [
        track for track in labels.tracks if any(inst.track is track
                                                for lf in user
                                                for inst in lf.user_instances)
    ]
    untracked = max(
        sum(inst.track is None for inst in lf.user_instances) for lf in user)
    animals = [str(track.name) for track in tracks
               ] + [f'untracked {i + 1}' for i in range(untracked)]
    points = np.full((stop - start, len(animals), len(bodyparts), 2), np.nan)
    for lf in user:
        extra = len(tracks)
        for inst in lf.user_instances:
            if inst.track is None:
                slot, extra = extra, extra + 1
            else:
                slot = next(i for i, track in enumerate(tracks)
                            if track is inst.track)
            points[lf.frame_idx - start, slot] = np.asarray(
                inst.numpy(), dtype=np.float64)[:, :2]
    points[~np.isfinite(points).all(-1)] = np.nan
    if file is not None and frames is None:
        return Truth(file, points, animals, bodyparts, 0, name)
    first = to_rgb(source[start])
    height, width = first.shape[:2]
    stem = osp.basename(path).split('.')[0]
    written = write_lossless_video(
        osp.join(work, f'{stem}_{start}-{stop}.avi'),
        (first if t == start else to_rgb(source[t])
         for t in range(start, stop)), (width, height),
        video_fps(source) or WRITTEN_FPS)
    return Truth(written, points, animals, bodyparts, start, name)


def check_labels(labels: str) -> None:
    """Exit with an error naming ``labels`` when it does not exist."""
    if not osp.exists(labels):
        sys.exit(f'error: {labels} does not exist; give a SLEAP labels file '
                 '(.slp) or a DeepLabCut project folder')


def load_truth(labels: str, video: Optional[str], folder: Optional[str],
               frames: Optional[FrameRange], work: str) -> Truth:
    """The labels and the video to analyse (written into ``work`` when it
    must be); bad input exits with an error naming the file and the
    fix."""
    check_labels(labels)
    if osp.isdir(labels):
        if video is not None:
            sys.exit(f'error: --video is for SLEAP labels; {labels} is a '
                     'DeepLabCut project: choose its frames with '
                     '--video-folder')
        return deeplabcut_truth(labels, folder, frames, work)
    if not labels.endswith('.slp'):
        sys.exit(f'error: {labels} is neither a SLEAP labels file (.slp) '
                 'nor a DeepLabCut project folder')
    if folder is not None:
        sys.exit(f'error: --video-folder is for DeepLabCut projects; '
                 f'{labels} is a SLEAP file (choose its video with --video)')
    return sleap_truth(labels, video, frames, work)


def keypoint_order(model_names: Sequence[str],
                   bodyparts: Sequence[str]) -> np.ndarray:
    """The model's keypoint index of each labelled bodypart (by name, else
    by position when the counts agree)."""
    if set(bodyparts) <= set(model_names):
        return np.array([list(model_names).index(b) for b in bodyparts])
    if len(model_names) == len(bodyparts):
        from mmengine.logging import print_log
        print_log(
            f'warning: the model keypoints {list(model_names)} are named '
            f'otherwise than the labels {list(bodyparts)}; compared by '
            'position',
            logger='current',
            level=30)
        return np.arange(len(bodyparts))
    sys.exit(f'error: the model has {len(model_names)} keypoints '
             f'{list(model_names)}, the labels {len(bodyparts)} '
             f'{list(bodyparts)}; use the model trained on these labels')


def _video_tool():
    path = osp.join(ROOT, 'tools', 'analyze_video.py')
    spec = importlib.util.spec_from_file_location('analyze_video', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_video_tool(args: argparse.Namespace, video: str) -> np.ndarray:
    """``tools/analyze_video.py`` with its defaults on ``video``: the
    ``(T, N, K, 2)`` points of its DeepLabCut ``.h5``, model keypoint
    order."""
    from promptpose_mm.io.deeplabcut import read_deeplabcut_predictions
    argv = [
        video, '--config', args.config, '--checkpoint', args.checkpoint,
        '--out-dir', args.out_dir, '--formats', 'dlc-h5', 'boxes',
        '--batch-size',
        str(args.batch_size), '--device', args.device
    ]
    if args.default_malloc:
        argv.append('--default-malloc')
    files = _video_tool().main(argv)
    tables = [name for name in files if name.endswith('.h5')]
    if not tables:
        sys.exit(f'error: tools/analyze_video.py wrote no .h5 for {video} '
                 f'(wrote {files})')
    points, _ = read_deeplabcut_predictions(tables[0])
    return points


def ground_truth_boxes(points: np.ndarray,
                       padding: float) -> Tuple[np.ndarray, np.ndarray]:
    """``(T, M, 4)`` xyxy padded squares around each labelled animal and
    ``(T, M)`` half their sides; NaN where an animal is unlabelled."""
    from promptpose_mm.utils.boxes import square_box
    boxes = np.full(points.shape[:2] + (4, ), np.nan)
    for t, m in zip(*np.nonzero(np.isfinite(points).all(-1).any(-1))):
        x, y, w, h = square_box(points[t, m], padding)
        boxes[t, m] = [x, y, x + w, y + h]
    return boxes, (boxes[..., 2] - boxes[..., 0]) / 2


def predict_on_boxes(model,
                     video: str,
                     boxes: np.ndarray,
                     crops_per_call: int = CROPS_PER_CALL) -> np.ndarray:
    """The model on every ``(T, M, 4)`` box of the video's frames:
    ``(T, M, K, 2)`` points, model keypoint order, NaN where no box."""
    from tqdm import tqdm

    from promptpose_mm.apis.video import TopdownBatch, open_video, to_bgr
    run = TopdownBatch(model)
    frames = open_video(video)
    crops = list(zip(*np.nonzero(np.isfinite(boxes).all(-1))))
    points = np.full(boxes.shape[:2] + (run.num_keypoints, 2), np.nan)
    with tqdm(total=len(crops), unit='crop', desc='ground-truth boxes') as bar:
        for begin in range(0, len(crops), crops_per_call):
            chunk = crops[begin:begin + crops_per_call]
            images: Dict[int, np.ndarray] = {}
            for t, _ in chunk:
                if t not in images:
                    images[t] = to_bgr(frames[int(t)])
            found, _ = run([images[t] for t, _ in chunk],
                           [boxes[t, m] for t, m in chunk])
            for (t, m), keypoints in zip(chunk, found):
                points[t, m] = keypoints
            bar.update(len(chunk))
    return points


def found_line(results) -> str:
    """How many labelled animals each run found."""
    parts = [
        f'{name} {result.found}/{result.animal_frames} '
        f'({100 * result.found_share:.1f} %)'
        for name, result in results.items()
    ]
    return 'animals found: ' + ', '.join(parts)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Returns ``{run name: TrackComparison}`` (:data:`RUNS`)."""
    args = parse_args(argv)
    check_labels(args.labels)
    from tools.cli import keep_freed_memory
    keep_freed_memory(args)
    from mmengine.logging import print_log

    from promptpose_mm.analysis.video_accuracy import (compare_tracks,
                                                       format_accuracy_table)
    from promptpose_mm.apis import (check_pose_checkpoint, init_model,
                                    load_config)
    try:
        cfg = load_config(args.config)
        check_pose_checkpoint(args.checkpoint, cfg)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    padding = box_padding(cfg, args.padding)
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='video_against_labels_') as work:
        truth = load_truth(args.labels, args.video, args.video_folder,
                           args.frames, work)
        frames, animals = truth.points.shape[:2]
        print_log(
            f'{truth.source}: {frames} frames from {truth.start}, '
            f'{animals} animals '
            f'({", ".join(truth.animals)}), video {truth.video}',
            logger='current')
        # the ground-truth boxes first: a keypoint mismatch stops at once,
        # and one model is in memory at a time
        model = init_model(
            cfg, args.checkpoint, device=args.device, precision=args.precision)
        meta = model.dataset_meta
        names = [
            meta['keypoint_id2name'][i] for i in range(meta['num_keypoints'])
        ]
        order = keypoint_order(names, truth.bodyparts)
        boxes, half_sides = ground_truth_boxes(truth.points, padding)
        box_points = predict_on_boxes(model, truth.video, boxes)
        del model
        video_points = run_video_tool(args, truth.video)
    if len(video_points) != frames:
        sys.exit(f'error: tools/analyze_video.py returned {len(video_points)} '
                 f'frames of {truth.video}, the labels cover {frames}')
    results = {
        RUNS[0]:
        compare_tracks(video_points[:, :, order], truth.points, half_sides),
        RUNS[1]:
        compare_tracks(box_points[:, :, order], truth.points, half_sides),
    }
    table = format_accuracy_table(results)
    note = (f'{truth.source}, frames {truth.start}:{truth.start + frames}; '
            "found: mean keypoint error <= half the side of the animal's "
            f'box (padding {padding:g}); errors: pixels, found animals')
    stem = osp.basename(osp.normpath(args.labels)).split('.')[0]
    with open(osp.join(args.out_dir, f'{stem}_against_labels.md'),
              'w') as file:
        file.write(f'{table}\n\n{note}\n')
    print(table)
    print(note)
    print(found_line(results))
    return results


if __name__ == '__main__':
    main()
