from .checkpoint import (UnreadableCheckpointError, UnsafeCheckpointError,
                         allow_mmengine_checkpoints, load_checkpoint_file,
                         mmengine_safe_globals)
from .cpu_memory import (cpu_memory_mode, release_free_cpu_memory,
                         reuse_freed_cpu_memory)
from .keypoint_names import (humanize_keypoint_name,
                             keypoint_names_from_metainfo,
                             resolve_keypoint_names)

__all__ = [
    'allow_mmengine_checkpoints', 'mmengine_safe_globals',
    'load_checkpoint_file', 'UnreadableCheckpointError',
    'UnsafeCheckpointError', 'humanize_keypoint_name',
    'keypoint_names_from_metainfo', 'resolve_keypoint_names',
    'cpu_memory_mode', 'release_free_cpu_memory', 'reuse_freed_cpu_memory'
]
