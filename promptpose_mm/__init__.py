"""promptpose_mm: PromptPose (language-prompted animal pose) for MMPose 1.x.

Importing the package (``custom_imports = dict(imports=['promptpose_mm'])``
in a config) registers its modules in ``mmpose.registry.MODELS`` and lets
``torch.load`` read MMEngine checkpoints (exactly the types they hold).
"""
from .utils.checkpoint import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

from . import models, visualization  # noqa: E402,F401  (registers)

# The modules this package registers in ``mmpose.registry.MODELS``.
REGISTERED_MODELS = (
    'CLIPResNet',
    'CLIPVisionTransformer',
    'PromptPoseNeck',
    'PromptPoseHead',
    'PixelLevelLoss',
    'SemanticLevelLoss',
)

__all__ = ['__version__', 'REGISTERED_MODELS']
