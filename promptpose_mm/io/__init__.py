"""The lab tools' file formats, one module per format:

- :mod:`.coco`: COCO keypoint files, read and written;

and what the formats share: the labelled frames every label reader returns
(:mod:`.labels`) and files written whole or not at all (:mod:`.atomic`).
"""
from .coco import (BOX_MODES, AnnotatedImage, CocoFileError, boxes_by_image,
                   check_coco_annotations, labels_to_coco, load_coco_images,
                   read_coco_file)
from .labels import LabelError, LabelledFrame, LabelSet, Skipped

__all__ = [
    'BOX_MODES', 'AnnotatedImage', 'CocoFileError', 'boxes_by_image',
    'check_coco_annotations', 'labels_to_coco', 'load_coco_images',
    'read_coco_file', 'LabelError', 'LabelledFrame', 'LabelSet', 'Skipped'
]
