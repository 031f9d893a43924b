"""Training-time machinery the configs name: the runner that takes the
model's keypoints from the dataset, the optimiser constructor, and the
gloo start of CPU-only distributed runs."""
from .dataset_keypoints import (KeypointConfigError, apply_dataset_keypoints,
                                dataset_keypoints)
from .distributed import init_cpu_process_group
from .optim_constructor import (PromptPoseOptimWrapperConstructor,
                                default_weight_decay, uses_decay_multipliers)
from .runner import PromptPoseRunner, follow_dataset_keypoints_in_runner

__all__ = [
    'KeypointConfigError', 'apply_dataset_keypoints', 'dataset_keypoints',
    'init_cpu_process_group', 'PromptPoseOptimWrapperConstructor',
    'default_weight_decay', 'uses_decay_multipliers', 'PromptPoseRunner',
    'follow_dataset_keypoints_in_runner'
]
