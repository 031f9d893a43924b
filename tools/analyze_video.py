"""PromptPose over videos: per-frame keypoints for DeepLabCut, SLEAP and NWB.

For every video, writes into --out-dir ``<video stem>_<scorer>`` with the
suffixes of --formats: DeepLabCut's analysis table (.h5 and .csv: scorer /
[individuals /] bodyparts / coords x, y, likelihood), a SLEAP file (.slp),
its analysis HDF5 (.analysis.h5) and NWB with ndx-pose (.nwb); with
--labelled-video also ``<stem>_<scorer>_labelled.mp4``.

Boxes (--boxes): ``frame`` (whole frames), ``fixed`` (--box X1 Y1 X2 Y2 on
every frame), ``track`` (one animal followed from --box, or from the whole
first frame), ``detector`` (--det-config/--det-checkpoint, several
animals). The default matches how the model was trained (an imported data
set records it); a mismatch is warned about. Examples::

    python tools/analyze_video.py session1.mp4 session2.avi \\
        --config work_dirs/mouse/CONFIG.py \\
        --checkpoint work_dirs/mouse/best_coco_AP_epoch_200.pth
    python tools/analyze_video.py arena.mp4 --config C --checkpoint K \\
        --boxes detector --det-config rtmdet_m_8xb32-300e_coco.py \\
        --det-checkpoint rtmdet.pth --labelled-video

Frames are decoded in a background thread while the model runs, and a video's
files are written in another while the next video is analysed. Ctrl-C stops
after the current batch and writes the frames done.
"""
import argparse
import os
import os.path as osp
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence

import numpy as np

FORMATS = ('dlc-h5', 'dlc-csv', 'slp', 'analysis-h5', 'nwb')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from promptpose_mm.apis import cli
    parser = cli.tool_parser(__doc__)
    parser.add_argument('videos', nargs='+', help='video files')
    cli.add_pose_model(parser)
    parser.add_argument(
        '--boxes',
        choices=('frame', 'fixed', 'track', 'detector'),
        help='where the crops come from (default: as the model was trained)')
    cli.add_box(
        parser, '--box', 'a box: on every frame (fixed, repeat for several) '
        'or on the first frame (track)')
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
        default='PromptPose',
        help='DeepLabCut scorer name and file suffix')
    cli.add_out_dir(parser, 'work_dirs/videos')
    args = parser.parse_args(argv)
    cli.check_backend(parser, args)
    if args.boxes == 'fixed' and not args.box:
        parser.error('--boxes fixed needs --box X1 Y1 X2 Y2')
    if args.boxes == 'detector' and not args.det_config:
        parser.error('--boxes detector needs --det-config')
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
    """``detect(bgr image) -> (N, 4)`` boxes from MMPose's inferencer."""
    from promptpose_mm.apis.cli import inferencer_from_args
    pose2d = inferencer_from_args(args).inferencer

    def detect(image):
        # MMPose's own detection step: classes, score threshold, NMS; no
        # box found means the whole frame, as in MMPose
        infos = pose2d.preprocess_single(
            image, 0, bbox_thr=args.bbox_thr, nms_thr=args.nms_thr)
        return np.concatenate(
            [info['data_samples'].gt_instances.bboxes for info in infos])

    return pose2d.model, detect


def main(argv: Optional[Sequence[str]] = None) -> list:
    args = parse_args(argv)
    from promptpose_mm.apis.cli import keep_freed_memory
    keep_freed_memory(args)
    from mmengine.logging import print_log

    from promptpose_mm.annotations.pose_files import (VideoPoses,
                                                      render_labelled_video,
                                                      write_poses)
    from promptpose_mm.apis import (analyze_video, box_source_warning,
                                    check_pose_checkpoint, default_box_source,
                                    init_model, load_config)
    from promptpose_mm.apis.video import VideoError
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
        model = init_model(cfg, args.checkpoint, device=args.device)
    record = cfg.get('label_import') or {}
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

    interrupted = False
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
                    padding=record.get('padding') or 0.25)
            except (FileNotFoundError, VideoError) as error:
                sys.exit(f'error: {error}')
            seconds = time.perf_counter() - start
            frames = len(result.keypoints)
            print_log(
                f'{path}: {frames} frames in {seconds:.1f} s '
                f'({frames / max(seconds, 1e-9):.1f} frames/s)',
                logger='current')
            poses = VideoPoses(path, result.keypoints, result.scores, names,
                               links, result.fps, args.scorer)
            stem = osp.join(
                args.out_dir,
                f'{osp.splitext(osp.basename(path))[0]}_{args.scorer}')
            pending.append(writer.submit(write, poses, stem))
            if not result.complete:
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
    return written


if __name__ == '__main__':
    main()
