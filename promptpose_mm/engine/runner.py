"""The model's keypoints follow the dataset in ``mim train`` / ``mim test``.

MMPose 1.3's ``tools/train.py`` and ``tools/test.py`` (what ``mim train``
and ``mim test`` run) build ``Runner.from_cfg(cfg)`` and ignore
``runner_type``, and MMEngine's runner builds the model before anything
else could see the config. So importing the plugin wraps
``Runner.from_cfg`` (:func:`follow_dataset_keypoints_in_runner`): a config
that names ``runner_type = 'PromptPoseRunner'`` (every PromptPose config
does) first gets its model's keypoints filled in from its dataset by
:func:`~promptpose_mm.engine.dataset_keypoints.apply_dataset_keypoints`;
any other config is passed on untouched. A config whose prompt names
disagree with its dataset fails before the model is built, and the config
the runner dumps into the work directory holds the filled-in values.

:class:`PromptPoseRunner` is MMEngine's ``Runner`` under that name, so that
MMEngine's own ``RUNNERS.build(cfg)`` path works as well. It is registered
in MMEngine's root ``RUNNERS``, which MMPose's registry searches too.
"""
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .dataset_keypoints import apply_dataset_keypoints

RUNNER_TYPE = 'PromptPoseRunner'
_original_from_cfg = Runner.from_cfg.__func__


def _from_cfg(cls, cfg: Config) -> Runner:
    if cfg.get('runner_type') == RUNNER_TYPE:
        cfg = apply_dataset_keypoints(cfg)
    return _original_from_cfg(cls, cfg)


_from_cfg._promptpose = True


def follow_dataset_keypoints_in_runner() -> None:
    """Make ``Runner.from_cfg`` fill in the keypoints of PromptPose configs
    (``runner_type='PromptPoseRunner'``); idempotent."""
    if not getattr(Runner.from_cfg, '_promptpose', False):
        Runner.from_cfg = classmethod(_from_cfg)


@RUNNERS.register_module(name=RUNNER_TYPE)
class PromptPoseRunner(Runner):
    """MMEngine's ``Runner`` for the PromptPose configs (their
    ``runner_type``); its ``from_cfg`` fills in the model's keypoints from
    the dataset (see the module docstring)."""

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        """Build the runner, the model's keypoints taken from the dataset
        the config trains and evaluates on."""
        return _original_from_cfg(cls, apply_dataset_keypoints(cfg))
