"""A lab's labels made an MMPose data set: labels from DeepLabCut and SLEAP
(read by :mod:`promptpose_mm.io`) turned into COCO keypoints with a
metainfo file and a config, and the paper's few-shot splits. MMPose's own
dataset classes read what these write; the command lines are in
``tools/dataset_converters/``."""
from .fewshot import (FewShotSplitError, SpeciesSplit, format_report,
                      load_coco_annotations, make_fewshot_split,
                      make_fewshot_split_file)
from .importer import import_labels, read_labels

__all__ = [
    'FewShotSplitError', 'SpeciesSplit', 'format_report',
    'load_coco_annotations', 'make_fewshot_split', 'make_fewshot_split_file',
    'import_labels', 'read_labels'
]
