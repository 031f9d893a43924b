from .checkpoint import allow_mmengine_checkpoints, mmengine_safe_globals
from .keypoint_names import (humanize_keypoint_name,
                             keypoint_names_from_metainfo,
                             resolve_keypoint_names)

__all__ = [
    'allow_mmengine_checkpoints', 'mmengine_safe_globals',
    'humanize_keypoint_name', 'keypoint_names_from_metainfo',
    'resolve_keypoint_names'
]
