"""promptpose_mm: PromptPose (language-prompted animal pose) for MMPose 1.x.

What ``import promptpose_mm`` does (a config's
``custom_imports = dict(imports=['promptpose_mm'])``), all of it here:

1. registers the modules in MMPose's registries (:data:`REGISTERED_MODELS`
   in ``MODELS``, ``DatasetKeypointsHook`` and ``CPUMemoryReuseHook`` in
   ``HOOKS``, ``PromptPoseOptimWrapperConstructor`` in
   ``OPTIM_WRAPPER_CONSTRUCTORS``, ``PromptPoseLocalVisualizer`` in
   ``VISUALIZERS``);
2. adds to ``torch.load``'s ``weights_only`` allow-list, through torch's
   public ``add_safe_globals``, exactly the types MMEngine checkpoints hold
   (code-running pickles stay refused;
   :func:`~.utils.checkpoint.allow_mmengine_checkpoints`);
3. under ``torchrun`` on a machine without GPUs only, starts the gloo
   process group that MMEngine's CUDA-only start cannot
   (:func:`~.engine.distributed.init_cpu_process_group`); anywhere else it
   does nothing.

No function or class of MMEngine, MMPose or torch is replaced. Nothing
else: no analysis or tooling module is imported.
"""
from .engine import init_cpu_process_group
from .utils.checkpoint import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()
init_cpu_process_group()

from . import models, visualization  # noqa: E402,F401  (registers)

# The modules this package registers in ``mmpose.registry.MODELS``.
REGISTERED_MODELS = (
    'CLIPResNet',
    'CLIPVisionTransformer',
    'PromptPoseNeck',
    'PromptPoseHead',
    'PromptPoseEstimator',
    'PixelLevelLoss',
    'SemanticLevelLoss',
)

__all__ = ['__version__', 'REGISTERED_MODELS']
