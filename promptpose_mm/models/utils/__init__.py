"""Helpers shared by the PromptPose modules."""
from .keypoint_sampling import keypoints_inside, sample_keypoint_features
from .prompt_cache import PromptCache

__all__ = ['PromptCache', 'keypoints_inside', 'sample_keypoint_features']
