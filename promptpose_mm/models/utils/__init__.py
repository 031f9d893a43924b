"""Helpers shared by the PromptPose modules."""
from .eval_cache import EvalCache, parameters_key
from .keypoint_sampling import keypoints_inside, sample_keypoint_features

__all__ = [
    'EvalCache', 'keypoints_inside', 'parameters_key',
    'sample_keypoint_features'
]
