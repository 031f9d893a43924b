from .promptpose_estimator import PromptPoseEstimator

__all__ = ['PromptPoseEstimator']
