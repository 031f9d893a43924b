"""PromptPose modules; importing this registers them in mmpose's MODELS."""
from .backbones import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .pose_estimators import *  # noqa: F401,F403
from .structures import PromptPoseFeatures

__all__ = ['PromptPoseFeatures']
