"""COCO-style keypoint annotation files: the one reader, and the writer of
a :class:`~.labels.LabelSet`.

Every tool that reads a COCO JSON goes through :func:`read_coco_file` (open,
parse, check the structure, errors that name the file and say what is
wrong). On top of it:

* :func:`load_coco_images`: per image, its path, its instances' boxes and
  ground-truth keypoints (the analysis tools and the demo);
* :func:`boxes_by_image`: per image file, its boxes (the inference tool's
  ``--bbox-file``, which may hold detections without keypoints).

The few-shot split (:mod:`promptpose_mm.annotations.fewshot`) reads with
:func:`read_coco_file` and adds its own checks.

:func:`labels_to_coco` writes a :class:`~.labels.LabelSet` as COCO keypoint
annotations. Boxes (the crop a top-down model sees) come in two modes,
recorded in the import's config so that inference can match them:

- ``'animal'``: a square around the instance's labelled points, centred on
  them, grown by ``padding`` times its side on every side;
- ``'frame'``: the whole image (fixed-camera lab videos, one animal, as
  DeepLabCut trains).

Every annotation's ``area`` (the OKS scale of ``CocoMetric``) is that of the
padded square in both modes, so AP means the same whichever box is used.
Unlabelled points are ``0, 0, 0`` (visibility 0), labelled ones have
visibility 2.
"""
import json
import os.path as osp
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from promptpose_mm.utils.boxes import square_box
from .labels import LabelledFrame, LabelSet

BOX_MODES = ('animal', 'frame')


class CocoFileError(ValueError):
    """A file is not a usable COCO-style annotation file."""


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


def check_coco_annotations(coco: Any,
                           source: str,
                           categories: bool = True,
                           keypoints: bool = True) -> None:
    """Check the structure of a COCO-style annotation dict.

    ``images`` and ``annotations`` lists (and ``categories`` when
    ``categories``); every image (and category) with an ``id``; every
    annotation with an ``image_id`` among the images (and a ``category_id``
    among the categories); with ``keypoints``, every annotation with either
    ``num_keypoints`` or ``keypoints``.

    Args:
        coco: the loaded file.
        source (str): its name, for the messages.
        categories (bool): require the categories and check references.
        keypoints (bool): require keypoint annotations.

    Raises:
        CocoFileError: naming ``source`` and the first problem found.
    """
    lists = ('images', 'annotations') + (('categories', ) if categories else
                                         ())
    if not isinstance(coco, dict):
        raise CocoFileError(
            f'{source}: a COCO annotation file must hold a JSON object with '
            f"{', '.join(repr(key) for key in lists)}, got "
            f'{type(coco).__name__}')
    for key in lists:
        if key not in coco:
            raise CocoFileError(
                f"{source}: no '{key}' list; a COCO keypoint annotation file "
                f"needs {', '.join(repr(k) for k in lists)} (its keys: "
                f'{sorted(coco)})')
        if not isinstance(coco[key], list):
            raise CocoFileError(f"{source}: '{key}' must be a list, got "
                                f'{type(coco[key]).__name__}')
    for key in ('images', 'categories') if categories else ('images', ):
        for index, item in enumerate(coco[key]):
            if not isinstance(item, dict) or 'id' not in item:
                raise CocoFileError(
                    f"{source}: {key}[{index}] has no 'id': {item!r:.200}")
    image_ids = {image['id'] for image in coco['images']}
    category_ids = ({category['id']
                     for category in coco['categories']}
                    if categories else set())
    references = ('category_id', 'image_id') if categories else ('image_id', )
    for index, ann in enumerate(coco['annotations']):
        where = f'{source}: annotations[{index}]'
        if not isinstance(ann, dict):
            raise CocoFileError(f'{where} is not an object: {ann!r:.200}')
        where += f" (id {ann.get('id', '?')})"
        for key in references:
            if key not in ann:
                raise CocoFileError(
                    f"{where} has no '{key}'; every annotation needs "
                    f"{' and '.join(repr(k) for k in references[::-1])}")
        if categories and ann['category_id'] not in category_ids:
            raise CocoFileError(
                f"{where} has category_id {ann['category_id']!r}, which is "
                "not among the file's categories")
        if ann['image_id'] not in image_ids:
            raise CocoFileError(
                f"{where} has image_id {ann['image_id']!r}, which is not "
                "among the file's images")
        if keypoints and 'num_keypoints' not in ann and 'keypoints' not in ann:
            raise CocoFileError(
                f"{where} has neither 'num_keypoints' nor 'keypoints'; it "
                'is not a keypoint annotation')


def read_coco_file(path: str,
                   categories: bool = True,
                   keypoints: bool = True) -> Dict[str, Any]:
    """Read and check a COCO-style annotation file.

    Args:
        path (str): the JSON file.
        categories (bool): require ``categories`` (see
            :func:`check_coco_annotations`).
        keypoints (bool): require keypoint annotations.

    Returns:
        dict: its content.

    Raises:
        FileNotFoundError: there is no such file.
        CocoFileError: it is not JSON or not such a COCO file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path}: no such annotation file (give the path of a '
            'COCO-style keypoint file, e.g. '
            'tests/data/ap10k/test_ap10k.json)')
    try:
        with open(path, encoding='utf-8') as file:
            coco = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CocoFileError(
            f'{path}: not a JSON annotation file ({error})') from error
    check_coco_annotations(coco, path, categories, keypoints)
    return coco


def _xyxy(ann: Dict[str, Any], source: str) -> List[float]:
    """An annotation's ``bbox`` ``[x, y, w, h]`` as ``[x1, y1, x2, y2]``."""
    box = ann.get('bbox')
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise CocoFileError(
            f"{source}: annotation {ann.get('id', '?')} has bbox {box!r}; "
            'a box is [x, y, width, height]')
    x, y, w, h = (float(value) for value in box)
    return [x, y, x + w, y + h]


def load_coco_images(ann_file: str,
                     img_dir: Optional[str] = None,
                     file_names: Optional[Sequence[str]] = None
                     ) -> List[AnnotatedImage]:
    """Load the annotated images of a COCO keypoint file.

    Crowd instances and instances without a box or keypoints are skipped.

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
    coco = read_coco_file(ann_file, categories=False, keypoints=False)
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
            raise CocoFileError(
                f'no annotated instance for {missing} in {ann_file!r}; its '
                f'images are {sorted(i["file_name"] for i in images)}')
        images = [by_name[name] for name in file_names]
    loaded = []
    for image in images:
        anns = instances[image['id']]
        points = np.array([ann['keypoints'] for ann in anns],
                          dtype=np.float32).reshape(len(anns), -1, 3)
        loaded.append(
            AnnotatedImage(
                path=osp.join(img_dir, image['file_name']),
                bboxes=np.array([_xyxy(ann, ann_file) for ann in anns],
                                dtype=np.float32),
                keypoints=points[..., :2],
                visible=points[..., 2] > 0))
    if not loaded:
        raise CocoFileError(f'{ann_file!r} has no instance with a box and '
                            'keypoints')
    return loaded


def boxes_by_image(ann_file: str) -> Dict[str, np.ndarray]:
    """The boxes of every image of a COCO file, keyed by file name.

    Annotations need only ``image_id`` and ``bbox`` (detections work);
    an image without annotations gets ``(0, 4)``.

    Args:
        ann_file (str): the JSON file.

    Returns:
        dict[str, np.ndarray]: ``(N, 4)`` float32 boxes ``(x1, y1, x2,
        y2)`` per ``file_name``, and per base name where no other image
        has it.
    """
    coco = read_coco_file(ann_file, categories=False, keypoints=False)
    names = {}
    for index, image in enumerate(coco['images']):
        if 'file_name' not in image:
            raise CocoFileError(
                f"{ann_file}: images[{index}] has no 'file_name'")
        names[image['id']] = image['file_name']
    boxes: Dict[str, list] = {name: [] for name in names.values()}
    for ann in coco['annotations']:
        boxes[names[ann['image_id']]].append(_xyxy(ann, ann_file))
    by_name = {}
    for name, rows in boxes.items():
        array = np.asarray(rows, dtype=np.float32).reshape(-1, 4)
        by_name[name] = array
        by_name.setdefault(osp.basename(name), array)
    return by_name


def labels_to_coco(label_set: LabelSet,
                   frames: Optional[Sequence[LabelledFrame]] = None,
                   box_mode: str = 'animal',
                   padding: float = 0.25) -> dict:
    """COCO keypoint annotations of labelled frames.

    Image ids count from 1 in the order of ``frames``, annotation ids in
    the order of their instances; one category (id 1, the set's name)
    with the keypoint names and the skeleton (1-based, as COCO writes it).

    Args:
        label_set (LabelSet): names and skeleton (and the frames, when
            ``frames`` is None).
        frames (Sequence[LabelledFrame], optional): the frames to write.
        box_mode (str): ``'animal'`` or ``'frame'`` (see the module).
        padding (float): the animal box's padding per side.

    Returns:
        dict: ``images``, ``annotations`` and ``categories``.
    """
    if box_mode not in BOX_MODES:
        raise ValueError(f'box_mode must be one of {BOX_MODES}, got '
                         f'{box_mode!r}')
    frames = label_set.frames if frames is None else frames
    index = {name: i for i, name in enumerate(label_set.bodyparts)}
    images, annotations = [], []
    for image_id, frame in enumerate(frames, start=1):
        images.append(
            dict(
                id=image_id,
                file_name=frame.file_name,
                width=int(frame.width),
                height=int(frame.height)))
        for points in frame.instances:
            labelled = np.isfinite(points).all(axis=1)
            if not labelled.any():
                continue
            keypoints: List[float] = []
            for (x, y), seen in zip(points, labelled):
                keypoints += [float(x), float(y), 2] if seen else [0.0, 0.0, 0]
            square = square_box(points, padding)
            box = square if box_mode == 'animal' else [
                0.0, 0.0, float(frame.width),
                float(frame.height)
            ]
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=1,
                    keypoints=keypoints,
                    num_keypoints=int(labelled.sum()),
                    bbox=box,
                    area=square[2] * square[3],
                    iscrowd=0))
    categories = [
        dict(
            id=1,
            name=label_set.name,
            supercategory='animal',
            keypoints=list(label_set.bodyparts),
            skeleton=[[index[a] + 1, index[b] + 1]
                      for a, b in label_set.skeleton])
    ]
    return dict(images=images, annotations=annotations, categories=categories)
