"""Read a COCO-style keypoint annotation file, image by image.

The analysis tools need, per image, its path, its instances' boxes and
their ground-truth keypoints; :func:`load_coco_images` gives exactly that
(crowd instances and instances without a box are skipped).
"""
import json
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence

import numpy as np


class AnnotatedImage(NamedTuple):
    """One image and its annotated instances.

    Attributes:
        path (str): the image file.
        bboxes (np.ndarray): ``(N, 4)`` boxes ``(x1, y1, x2, y2)``.
        keypoints (np.ndarray): ``(N, K, 2)`` keypoints ``(x, y)`` in image
            pixels.
        visible (np.ndarray): ``(N, K)`` bool, ``True`` where the keypoint
            is labelled (COCO visibility > 0).
    """
    path: str
    bboxes: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray


def load_coco_images(ann_file: str,
                     img_dir: Optional[str] = None,
                     file_names: Optional[Sequence[str]] = None
                     ) -> List[AnnotatedImage]:
    """Load the annotated images of a COCO keypoint file.

    Args:
        ann_file (str): the JSON file (``images``, ``annotations`` with
            ``bbox`` ``[x, y, w, h]`` and ``keypoints``
            ``[x1, y1, v1, ...]``).
        img_dir (str, optional): folder the ``file_name`` entries are
            relative to; the annotation file's folder by default.
        file_names (Sequence[str], optional): keep only these images (file
            names as in the JSON, or base names), in this order.

    Returns:
        list[AnnotatedImage]: images with at least one usable instance, in
        the file's order (or ``file_names``' order).
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'annotation file {ann_file!r} does not exist: pass a COCO-style '
            'keypoint JSON (e.g. tests/data/ap10k/test_ap10k.json)')
    with open(ann_file) as f:
        coco = json.load(f)
    if not isinstance(coco, dict) or not {'images', 'annotations'
                                          } <= set(coco):
        raise ValueError(f'{ann_file!r} is not a COCO annotation file: it '
                         "needs 'images' and 'annotations'")
    img_dir = osp.dirname(osp.abspath(ann_file)) if img_dir is None \
        else img_dir
    instances = {}
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0) or not ann.get('bbox') or \
                'keypoints' not in ann:
            continue
        instances.setdefault(ann['image_id'], []).append(ann)
    images = [image for image in coco['images'] if image['id'] in instances]
    if file_names is not None:
        by_name = {}
        for image in images:
            by_name[image['file_name']] = image
            by_name.setdefault(osp.basename(image['file_name']), image)
        missing = [name for name in file_names if name not in by_name]
        if missing:
            raise ValueError(
                f'no annotated instance for {missing} in {ann_file!r}; its '
                f'images are {sorted(i["file_name"] for i in images)}')
        images = [by_name[name] for name in file_names]
    loaded = []
    for image in images:
        anns = instances[image['id']]
        xywh = np.array([ann['bbox'] for ann in anns], dtype=np.float32)
        points = np.array([ann['keypoints'] for ann in anns],
                          dtype=np.float32).reshape(len(anns), -1, 3)
        loaded.append(
            AnnotatedImage(
                path=osp.join(img_dir, image['file_name']),
                bboxes=np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]],
                                      axis=1),
                keypoints=points[..., :2],
                visible=points[..., 2] > 0))
    if not loaded:
        raise ValueError(f'{ann_file!r} has no instance with a box and '
                         'keypoints')
    return loaded
