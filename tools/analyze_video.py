"""PromptPose over videos: per-frame keypoints for DeepLabCut, SLEAP and NWB.

For every video, writes into --out-dir ``<video stem><scorer>`` (as
DeepLabCut names them; the scorer is ``DLC_PromptPose`` unless --scorer
says otherwise) with the suffixes of --formats: DeepLabCut's analysis table
(.h5 and .csv: scorer / [individuals /] bodyparts / coords x, y,
likelihood; ``_el.h5`` for several animals) and its _meta.pickle, a SLEAP
file (.slp),
its analysis HDF5 (.analysis.h5), NWB with ndx-pose (.nwb, one file per
animal) and the boxes the
model ran on with each animal's state per frame (_boxes.csv: followed,
searched, detected or lost); with --labelled-video also
``<video stem><scorer>_labelled.mp4``. An animal not found on a frame is NaN
there, and the summary counts those frames.

Boxes (--boxes): ``frame`` (whole frames), ``fixed`` (--box X1 Y1 X2 Y2 on
every frame), ``track`` (--animals animals, or one per --box, followed from
frame to frame with the pose model alone: found on the first frame by a
search over the frame at the animals' trained size, searched for again
when lost), ``detector`` (--det-config/--det-checkpoint, identities kept
from frame to frame). The default matches how the model was trained (an
imported data set records its box mode, the animals' size and how many
share a frame); a mismatch is warned about. Examples::

    python tools/analyze_video.py session1.mp4 session2.avi \\
        --config work_dirs/mouse/CONFIG.py \\
        --checkpoint work_dirs/mouse/best_coco_AP_epoch_200.pth
    python tools/analyze_video.py arena.mp4 --config C --checkpoint K \\
        --boxes detector --det-config rtmdet_m_8xb32-300e_coco.py \\
        --det-checkpoint rtmdet.pth --labelled-video

Frames are decoded in a background thread while the model runs, and a video's
files are written in another while the next video is analysed. Ctrl-C stops
after the current batch and writes the frames done; a frame that cannot be
decoded ends that video there: its frames before are written, the error
names the frame, and the tool exits with status 1 after the other videos.
"""
import argparse
import os
import os.path as osp
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence

import numpy as np

from promptpose_mm.io.poses import FORMATS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = cli.tool_parser(__doc__)
    parser.add_argument('videos', nargs='+', help='video files')
    cli.add_pose_model(parser)
    parser.add_argument(
        '--boxes',
        choices=('frame', 'fixed', 'track', 'detector'),
        help='where the crops come from (default: as the model was trained)')
    cli.add_box(
        parser, '--box', 'a box: on every frame (fixed, repeat for several) '
        'or an animal on the first frame (track, repeat for several)')
    parser.add_argument(
        '--animals',
        type=int,
        help='track: the animals followed (default: one per --box, else the '
        'most labelled on one training frame, else 1); detector: the most '
        'identities (default: no limit)')
    parser.add_argument(
        '--individuals',
        nargs='+',
        metavar='NAME',
        help="the animals' names in the files (DeepLabCut individuals, "
        'SLEAP tracks, NWB subjects), one per animal; sets --animals '
        "(default: the imported project's individuals or tracks when they "
        'are as many as the animals, else animal1, animal2, ...)')
    parser.add_argument(
        '--animal-size',
        type=float,
        help='track: the side in pixels of the box around an animal, for '
        "the search (default: the training boxes' median, else several "
        'sizes)')
    parser.add_argument(
        '--search-every',
        type=int,
        default=5,
        help='track: frames between two searches for a lost animal '
        '(default: 5)')
    cli.add_detector(parser)
    parser.add_argument(
        '--batch-size', type=int, default=16, help='frames per model call')
    parser.add_argument(
        '--formats',
        nargs='+',
        choices=FORMATS,
        default=list(FORMATS),
        help='output formats (default: all)')
    parser.add_argument(
        '--labelled-video',
        action='store_true',
        help='also draw the keypoints on a copy of the video')
    cli.add_kpt_thr(
        parser, 'keypoints scoring below it are not drawn, nor trusted by '
        'tracking (default: 0.3)')
    parser.add_argument(
        '--scorer',
        default='DLC_PromptPose',
        help='the scorer: the scorer level of the DeepLabCut table and the '
        'suffix of every file, <video stem><scorer> as DeepLabCut names '
        'them (its tools look for "DLC" in the name)')
    cli.add_out_dir(parser, 'work_dirs/videos')
    args = parser.parse_args(argv)
    cli.check_backend(parser, args)
    if args.boxes == 'fixed' and not args.box:
        parser.error('--boxes fixed needs --box X1 Y1 X2 Y2')
    if args.boxes == 'detector' and not args.det_config:
        parser.error('--boxes detector needs --det-config')
    if args.box and args.boxes in ('frame', 'detector'):
        parser.error(f'--box has no use with --boxes {args.boxes}')
    if args.animals is not None and args.box and args.boxes != 'fixed' \
            and args.animals != len(args.box):
        parser.error(f'--animals {args.animals} but {len(args.box)} --box '
                     'given: give one box per animal')
    if args.individuals:
        names = args.individuals
        slots = (1 if args.boxes == 'frame' else
                 len(args.box) if args.box else args.animals)
        if len(set(names)) != len(names):
            parser.error(f'--individuals {" ".join(names)}: the names must '
                         'differ')
        if slots is not None and slots != len(names):
            parser.error(f'{len(names)} --individuals for {slots} animals: '
                         'give one name per animal')
        args.animals = args.animals or len(names)
    for option in ('animals', 'search_every'):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f'--{option.replace("_", "-")} must be >= 1')
    return args


def writable_folder(path: str) -> str:
    """Create ``path``; an error names it when it cannot be written."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = osp.join(path, '.write-test')
        with open(probe, 'w'):
            pass
        os.remove(probe)
    except OSError as error:
        raise SystemExit(f'error: output folder {path} cannot be written '
                         f'({error.strerror}); pass another --out-dir')
    return path


def build_detector(args: argparse.Namespace):
    """``detect(bgr image) -> (N, 4)`` boxes: MMPose's detector, classes
    and score threshold, then NMS; a frame without a detection gives no
    box (not the whole frame)."""
    from mmpose.evaluation.functional import nms

    from tools.cli import inferencer_from_args
    pose2d = inferencer_from_args(args).inferencer
    classes = list(args.det_cat_ids)

    def detect(image):
        found = pose2d.detector(
            image, return_datasamples=True)['predictions'][0]
        instances = found.pred_instances.cpu().numpy()
        keep = np.isin(instances.labels, classes) & (
            instances.scores > args.bbox_thr)
        boxes = np.concatenate(
            [instances.bboxes[keep], instances.scores[keep, None]], axis=1)
        return boxes[nms(boxes, args.nms_thr), :4] if len(boxes) else \
            np.zeros((0, 4), np.float32)

    return pose2d.model, detect


def frame_size(path: str) -> tuple:
    """The video's ``(width, height)``."""
    from promptpose_mm.apis.video import open_video
    height, width = open_video(path).shape[1:3]
    return int(width), int(height)


def count_states(states: np.ndarray, individuals: Sequence[str]) -> str:
    """``animal1: 95 followed, 5 lost; ...``: frames per state of each
    animal slot of ``(T, N)`` states."""
    lines = []
    for n, name in enumerate(individuals):
        names, counts = np.unique(states[:, n].astype(str), return_counts=True)
        lines.append(f'{name}: ' +
                     ', '.join(f'{count} {state}'
                               for state, count in zip(names, counts)))
    return '; '.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> list:
    args = parse_args(argv)
    from tools.cli import keep_freed_memory
    keep_freed_memory(args)
    from mmengine.logging import print_log

    from promptpose_mm.apis import (analyze_video, box_source_warning,
                                    check_pose_checkpoint, default_box_source,
                                    init_model, load_config)
    from promptpose_mm.apis.video import VideoError
    from promptpose_mm.io.poses import VideoPoses, write_poses
    from promptpose_mm.io.video import render_labelled_video
    writable_folder(args.out_dir)
    try:
        cfg = load_config(args.config)
        check_pose_checkpoint(args.checkpoint, cfg)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    box_source, why = (args.boxes, 'as asked') if args.boxes else \
        default_box_source(cfg)
    warning = box_source_warning(cfg, box_source)
    if warning:
        print_log(f'warning: {warning}', logger='current', level=30)
    print_log(f'boxes: {box_source} ({why})', logger='current')
    detect = None
    if box_source == 'detector':
        model, detect = build_detector(args)
    else:
        model = init_model(
            cfg, args.checkpoint, device=args.device, precision=args.precision)
    record = cfg.get('label_import') or {}
    padding = record.get('padding')
    padding = 0.25 if padding is None else float(padding)
    animals = args.animals
    if animals is None and box_source == 'track':
        animals = len(args.box or ()) or record.get('max_animals') or 1
    meta = model.dataset_meta
    names = [meta['keypoint_id2name'][i] for i in range(meta['num_keypoints'])]
    links = [(names[a], names[b]) for a, b in meta.get('skeleton_links', [])]
    # one writer thread: a video's files (and its labelled copy) are
    # written while the model runs on the next video
    writer = ThreadPoolExecutor(max_workers=1)
    pending = []

    def write(poses: VideoPoses, stem: str) -> list:
        files = write_poses(poses, stem, args.formats)
        if args.labelled_video:
            files.append(
                render_labelled_video(poses, stem + '_labelled.mp4',
                                      args.kpt_thr))
        print_log(f'{poses.video}: wrote {", ".join(files)}', logger='current')
        return files

    interrupted, failed = False, []
    try:
        for path in args.videos:
            start = time.perf_counter()
            try:
                result = analyze_video(
                    model,
                    path,
                    box_source,
                    boxes=args.box,
                    detect=detect,
                    batch_size=args.batch_size,
                    score_thr=args.kpt_thr,
                    padding=padding,
                    num_animals=animals,
                    animal_side=args.animal_size or record.get('animal_side'),
                    search_every=args.search_every)
            except (FileNotFoundError, VideoError) as error:
                sys.exit(f'error: {error}')
            seconds = time.perf_counter() - start
            finished = time.time()
            frames = len(result.keypoints)
            slots = result.keypoints.shape[1]
            named = args.individuals or record.get('individuals')
            if named and len(named) != slots:
                print_log(
                    f'{path}: {slots} animal slots, {len(named)} names '
                    f'({", ".join(named)}): the slots are animal1..{slots}',
                    logger='current',
                    level=30)
                named = None
            poses = VideoPoses(
                path, result.keypoints, result.scores, names, links,
                result.fps, args.scorer, result.boxes, result.states,
                frame_size(path),
                dict(
                    start=finished - seconds,
                    stop=finished,
                    batch_size=args.batch_size,
                    config=args.config), named)
            print_log(
                f'{path}: {frames} frames in {seconds:.1f} s '
                f'({frames / max(seconds, 1e-9):.1f} frames/s); '
                f'{count_states(result.states, poses.individuals)}',
                logger='current')
            if result.dropped:
                print_log(
                    f'{path}: {result.dropped} detections left out: every '
                    f'one of the {animals} identities was taken on their '
                    'frames (raise --animals)',
                    logger='current',
                    level=30)
            stem = osp.join(
                args.out_dir,
                f'{osp.splitext(osp.basename(path))[0]}{args.scorer}')
            pending.append(writer.submit(write, poses, stem))
            if result.error:
                print_log(
                    f'error: {result.error}; writing the {frames} frames '
                    'before it',
                    logger='current',
                    level=40)
                failed.append(result.error)
            elif not result.complete:
                print_log(
                    f'interrupted: writing the {frames} frames done',
                    logger='current',
                    level=30)
                interrupted = True
                break
    finally:
        writer.shutdown(wait=True)
    written = [name for job in pending for name in job.result()]
    if interrupted:
        sys.exit(130)
    if failed:
        sys.exit('error: ' + '; '.join(failed))
    return written


if __name__ == '__main__':
    main()
