"""promptpose_mm: PromptPose (language-prompted animal pose) for MMPose 1.x.

Importing the package (``custom_imports = dict(imports=['promptpose_mm'])``
in a config) registers its modules in ``mmpose.registry.MODELS``, lets
``torch.load`` read MMEngine checkpoints (exactly the types they hold), makes
MMEngine's loader of local checkpoint files report damaged or refused files
by name (``promptpose_mm.utils.checkpoint``), and
under ``torchrun`` on a machine without GPUs starts the gloo process group
that MMEngine's CUDA-only start cannot (see ``promptpose_mm.engine``).
"""
from .engine import init_cpu_process_group
from .utils.checkpoint import allow_mmengine_checkpoints, use_safe_local_loader
from .version import __version__

allow_mmengine_checkpoints()
use_safe_local_loader()
init_cpu_process_group()

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
