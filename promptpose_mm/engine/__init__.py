"""Training-time machinery the configs name: the runner that takes the
model's keypoints from the dataset, the optimiser constructor, the gloo
start of CPU-only distributed runs, and the hook that keeps freed CPU memory
for the next step."""
from .cpu_memory_hook import CPUMemoryReuseHook
from .dataset_keypoints import (KeypointConfigError, apply_dataset_keypoints,
                                dataset_keypoints)
from .distributed import init_cpu_process_group
from .optim_constructor import (PromptPoseOptimWrapperConstructor,
                                default_weight_decay, uses_decay_multipliers)
from .runner import PromptPoseRunner, follow_dataset_keypoints_in_runner

__all__ = [
    'CPUMemoryReuseHook', 'KeypointConfigError', 'apply_dataset_keypoints',
    'dataset_keypoints', 'init_cpu_process_group',
    'PromptPoseOptimWrapperConstructor', 'default_weight_decay',
    'uses_decay_multipliers', 'PromptPoseRunner',
    'follow_dataset_keypoints_in_runner'
]
