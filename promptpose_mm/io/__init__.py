"""The lab tools' file formats, one module per format:

- :mod:`.deeplabcut`: DeepLabCut projects' labels, and predictions as
  DeepLabCut's analysis table;
- :mod:`.sleap`: SLEAP labels files, and predictions as SLEAP files;
- :mod:`.nwb`: predictions as NWB files;
- :mod:`.coco`: COCO keypoint files, read, and a label set written;

and what they share: the labelled frames every label reader returns
(:mod:`.labels`), a video's predicted poses and the writer of all their
files (:mod:`.poses`), video files (:mod:`.video`) and files written whole
or not at all (:mod:`.atomic`).
"""
from .coco import (BOX_MODES, AnnotatedImage, CocoFileError, boxes_by_image,
                   check_coco_annotations, labels_to_coco, load_coco_images,
                   read_coco_file)
from .deeplabcut import (deeplabcut_table, read_deeplabcut_predictions,
                         read_deeplabcut_project, write_deeplabcut_predictions)
from .labels import LabelError, LabelledFrame, LabelSet, Skipped
from .nwb import write_nwb
from .poses import FORMATS, SUFFIXES, VideoPoses, box_table, write_poses
from .sleap import read_sleap_labels, sleap_labels, write_sleap_predictions
from .video import render_labelled_video, write_lossless_video

__all__ = [
    'BOX_MODES', 'AnnotatedImage', 'CocoFileError', 'boxes_by_image',
    'check_coco_annotations', 'labels_to_coco', 'load_coco_images',
    'read_coco_file', 'deeplabcut_table', 'read_deeplabcut_predictions',
    'read_deeplabcut_project', 'write_deeplabcut_predictions', 'LabelError',
    'LabelledFrame', 'LabelSet', 'Skipped', 'write_nwb', 'FORMATS', 'SUFFIXES',
    'VideoPoses', 'box_table', 'write_poses', 'read_sleap_labels',
    'sleap_labels', 'write_sleap_predictions', 'render_labelled_video',
    'write_lossless_video'
]
