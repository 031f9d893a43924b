"""promptpose_mm: PromptPose (language-prompted animal pose) for MMPose 1.x.

What ``import promptpose_mm`` changes (a config's
``custom_imports = dict(imports=['promptpose_mm'])``), all of it here:

1. registers the modules in MMPose's and MMEngine's registries
   (:data:`REGISTERED_MODELS` in ``MODELS``, ``PromptPoseRunner`` in
   ``RUNNERS``, ``PromptPoseOptimWrapperConstructor`` in
   ``OPTIM_WRAPPER_CONSTRUCTORS``, ``PromptPoseLocalVisualizer`` in
   ``VISUALIZERS``);
2. adds to ``torch.load``'s ``weights_only`` allow-list exactly the types
   MMEngine checkpoints hold (code-running pickles stay refused;
   :func:`~.utils.checkpoint.allow_mmengine_checkpoints`);
3. replaces MMEngine's loader of local checkpoint files (scheme ``''``) by
   one that reports damaged or refused files by name
   (:func:`~.utils.checkpoint.use_safe_local_loader`);
4. under ``torchrun`` on a machine without GPUs only, starts the gloo
   process group that MMEngine's CUDA-only start cannot
   (:func:`~.engine.distributed.init_cpu_process_group`); anywhere else it
   does nothing.

5. wraps MMEngine's ``Runner.from_cfg`` so that a config naming
   ``runner_type = 'PromptPoseRunner'`` (the PromptPose configs) gets its
   model's keypoints from its dataset before the model is built (MMPose's
   ``tools/train.py`` and ``tools/test.py`` call ``Runner.from_cfg`` and
   ignore ``runner_type``); other configs pass untouched
   (:func:`~.engine.runner.follow_dataset_keypoints_in_runner`).

Nothing else: no analysis or tooling module is imported.
"""
from .engine import follow_dataset_keypoints_in_runner, init_cpu_process_group
from .utils.checkpoint import allow_mmengine_checkpoints, use_safe_local_loader
from .version import __version__

allow_mmengine_checkpoints()
use_safe_local_loader()
init_cpu_process_group()
follow_dataset_keypoints_in_runner()

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
