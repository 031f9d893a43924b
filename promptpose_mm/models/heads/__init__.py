"""PromptPose heads."""
from .promptpose_head import PixelBranch, PromptPoseHead

__all__ = ['PixelBranch', 'PromptPoseHead']
