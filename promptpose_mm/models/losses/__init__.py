"""PromptPose losses."""
from .pixel_loss import PixelLevelLoss
from .semantic_loss import SemanticLevelLoss

__all__ = ['PixelLevelLoss', 'SemanticLevelLoss']
