"""Annotation files: the one COCO reader, labels from DeepLabCut and SLEAP
turned into COCO keypoints with a metainfo file and a config, and the
paper's few-shot splits. MMPose's own dataset classes read what these
write; the command lines are in ``tools/dataset_converters/``."""
from .coco import (AnnotatedImage, CocoFileError, boxes_by_image,
                   check_coco_annotations, load_coco_images, read_coco_file)
from .fewshot import (FewShotSplitError, SpeciesSplit, format_report,
                      load_coco_annotations, make_fewshot_split,
                      make_fewshot_split_file)
from .importer import import_labels, read_labels

__all__ = [
    'AnnotatedImage', 'CocoFileError', 'boxes_by_image',
    'check_coco_annotations', 'load_coco_images', 'read_coco_file',
    'FewShotSplitError', 'SpeciesSplit', 'format_report',
    'load_coco_annotations', 'make_fewshot_split', 'make_fewshot_split_file',
    'import_labels', 'read_labels'
]
