"""A :class:`~.labels.LabelSet` written as COCO keypoint annotations.

Boxes (the crop a top-down model sees) come in two modes, recorded in the
import's config so that inference can match them:

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
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from promptpose_mm.io.labels import LabelledFrame, LabelSet
from promptpose_mm.utils.boxes import square_box

BOX_MODES = ('animal', 'frame')


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


def write_json_atomic(path: str, data: object) -> str:
    """Write JSON through a temporary file renamed into place: an
    interrupted write leaves the old file or none, never half of one."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    partial = osp.join(folder, f'.{osp.basename(path)}.partial')
    try:
        with open(partial, 'w') as file:
            json.dump(data, file)
        os.replace(partial, path)
    finally:
        if osp.exists(partial):
            os.remove(partial)
    return path
