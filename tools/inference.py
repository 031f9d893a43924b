"""PromptPose on image files: poses drawn on the images, and a JSON of them.

Boxes come from one of: ``--bbox`` (repeatable, the same boxes for every
image), a COCO JSON (``--bbox-file``: its ``images`` and ``annotations``), an
mmdet detector (``--det-config``/``--det-checkpoint``, COCO mammal classes by
default); else the whole image is the box, as it is for an image with no box.
MMPose's ``MMPoseInferencer`` runs the model.

Examples::

    python tools/inference.py --config configs/promptpose_res50_ap10k.py \\
        --checkpoint best.pth dog.jpg --bbox 10 20 300 240
    python tools/inference.py --config ... --checkpoint ... images/ \\
        --det-config rtmdet_m_8xb32-300e_coco.py --det-checkpoint rtmdet.pth

Writes ``<out-dir>/vis/<image name>`` (drawn) and
``<out-dir>/predictions.json``.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
from tqdm import tqdm

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, ROOT)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from tools import cli
    parser = cli.tool_parser(__doc__)
    parser.add_argument('images', nargs='+', help='image files or folders')
    cli.add_pose_model(parser, device=None)
    boxes = parser.add_mutually_exclusive_group()
    cli.add_box(boxes, '--bbox',
                'a box for every image, pixels (repeat for several)')
    boxes.add_argument(
        '--bbox-file',
        help='COCO JSON whose images/annotations give the boxes (x y w h)')
    cli.add_detector(parser, config_group=boxes)
    cli.add_kpt_thr(parser, 'keypoint drawing threshold')
    cli.add_out_dir(parser, 'work_dirs/inference')
    args = parser.parse_args(argv)
    cli.check_backend(parser, args)
    if args.det_checkpoint and not args.det_config:
        parser.error('--det-checkpoint needs --det-config')
    return args


def collect_images(paths: Sequence[str]) -> List[str]:
    """Image files from files and folders (sorted within a folder)."""
    images = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(
                osp.join(path, name) for name in os.listdir(path)
                if name.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                extensions = ', '.join(IMAGE_EXTENSIONS)
                raise SystemExit(
                    f'folder {path} holds no image ({extensions})')
            images += found
        elif osp.isfile(path):
            images.append(path)
        else:
            raise SystemExit(f'image {path} does not exist: pass image files '
                             'or folders')
    return images


def boxes_from_coco(bbox_file: str) -> Dict[str, np.ndarray]:
    """Boxes per image file name (and basename), xyxy, from a COCO JSON."""
    from promptpose_mm.io.coco import CocoFileError, boxes_by_image
    try:
        return boxes_by_image(bbox_file)
    except (OSError, CocoFileError, KeyError, TypeError) as error:
        raise SystemExit(
            f'cannot read boxes from {bbox_file} ({type(error).__name__}: '
            f'{error}): pass a COCO JSON with "images" (id, file_name) and '
            '"annotations" (image_id, bbox as x y w h)') from error


def unique_name(path: str, used: set) -> str:
    """The file's basename, suffixed when another image took it."""
    stem, ext = osp.splitext(osp.basename(path))
    name, index = stem + ext, 1
    while name in used:
        name, index = f'{stem}_{index}{ext}', index + 1
    used.add(name)
    return name


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    from promptpose_mm.apis import (check_bboxes, draw_poses, infer_poses,
                                    pose_instances_to_json, read_image)
    from tools.cli import inferencer_from_args, keep_freed_memory
    keep_freed_memory(args)
    images = collect_images(args.images)
    given = None
    if args.bbox:
        given = check_bboxes(args.bbox, source='--bbox')
    file_boxes = boxes_from_coco(args.bbox_file) if args.bbox_file else None
    if file_boxes is not None:
        missing = [
            path for path in images
            if path not in file_boxes and osp.basename(path) not in file_boxes
        ]
        if missing:
            raise SystemExit(f'{args.bbox_file} lists no image named '
                             f'{missing[0]} ({len(missing)} missing): add '
                             'them or drop --bbox-file')
    try:
        inferencer = inferencer_from_args(args)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'error: {error}') from error

    vis_dir = osp.join(args.out_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)
    dataset_meta = inferencer.inferencer.model.dataset_meta
    names = dataset_meta.get('keypoint_id2name', {})
    results = []
    used: set = set()
    for path in tqdm(images, desc='pose inference', unit='image'):
        try:
            img = read_image(path)
        except (FileNotFoundError, ValueError) as error:
            raise SystemExit(f'error: {error}') from error
        if file_boxes is not None:
            bboxes = file_boxes.get(path, file_boxes.get(osp.basename(path)))
            bboxes = check_bboxes(bboxes, source=f'{args.bbox_file} ({path})')
            source = 'bbox_file' if len(bboxes) else 'whole_image'
        elif given is not None:
            bboxes, source = given, 'bbox'
        else:
            bboxes = None
            source = 'detector' if args.det_config else 'whole_image'
        sample = infer_poses(
            inferencer,
            img,
            bboxes,
            bbox_thr=args.bbox_thr,
            nms_thr=args.nms_thr)
        drawn = osp.join(vis_dir, unique_name(path, used))
        draw_poses(inferencer, img, sample, drawn, kpt_thr=args.kpt_thr)
        results.append(
            dict(
                image=path,
                width=int(img.shape[1]),
                height=int(img.shape[0]),
                boxes_from=source,
                drawn=drawn,
                instances=pose_instances_to_json(sample)))

    output = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        keypoint_names=[names[i] for i in sorted(names)],
        results=results)
    out_json = osp.join(args.out_dir, 'predictions.json')
    with open(out_json, 'w') as f:
        json.dump(output, f, indent=1)
    count = sum(len(result['instances']) for result in results)
    print(f'{count} poses in {len(results)} images: drawn in {vis_dir}, '
          f'predictions in {out_json}')
    return output


if __name__ == '__main__':
    main(sys.argv[1:])
