"""Training-time machinery the configs name: the check that the model and
the dataset name the same keypoints, the optimiser constructor (and its
bfloat16 training on a CPU), the gloo
start of CPU-only distributed runs, and the hook that keeps freed CPU memory
for the next step."""
from promptpose_mm.utils.keypoint_names import KeypointConfigError
from .cpu_amp import CPUAmpOptimWrapper
from .cpu_memory_hook import CPUMemoryReuseHook
from .dataset_keypoints import (apply_dataset_keypoints, check_model_keypoints,
                                dataset_keypoints)
from .distributed import init_cpu_process_group
from .keypoints_hook import DatasetKeypointsHook, model_keypoint_names
from .optim_constructor import (PromptPoseOptimWrapperConstructor,
                                default_weight_decay, uses_decay_multipliers)

__all__ = [
    'CPUAmpOptimWrapper', 'CPUMemoryReuseHook', 'DatasetKeypointsHook',
    'KeypointConfigError', 'apply_dataset_keypoints', 'check_model_keypoints',
    'dataset_keypoints', 'model_keypoint_names', 'init_cpu_process_group',
    'PromptPoseOptimWrapperConstructor', 'default_weight_decay',
    'uses_decay_multipliers'
]
