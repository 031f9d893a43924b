"""Dataset utilities: annotation-file transforms for the paper's settings."""
from .fewshot import (FewShotSplitError, SpeciesSplit, check_coco_annotations,
                      format_report, load_coco_annotations, make_fewshot_split,
                      make_fewshot_split_file)

__all__ = [
    'FewShotSplitError', 'SpeciesSplit', 'check_coco_annotations',
    'format_report', 'load_coco_annotations', 'make_fewshot_split',
    'make_fewshot_split_file'
]
