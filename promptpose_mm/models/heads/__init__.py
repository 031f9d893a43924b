"""PromptPose heads."""
from .promptpose_head import PromptPoseHead

__all__ = ['PromptPoseHead']
