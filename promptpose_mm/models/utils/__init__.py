"""Helpers shared by the PromptPose modules."""
from .keypoint_sampling import keypoints_inside, sample_keypoint_features

__all__ = ['keypoints_inside', 'sample_keypoint_features']
