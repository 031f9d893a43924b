"""The runner the PromptPose configs name (``runner_type``).

MMPose's ``tools/train.py`` and ``tools/test.py`` (what ``mim train`` and
``mim test`` run) build ``RUNNERS.build(cfg)`` when a config sets
``runner_type``. :class:`PromptPoseRunner` is MMEngine's ``Runner`` that
first fills in the model's keypoints from the config's dataset
(:func:`~promptpose_mm.engine.dataset_keypoints.apply_dataset_keypoints`),
so a downstream config states its dataset once, and a config whose prompt
names disagree with its dataset fails before the first iteration. The
config the runner dumps into the work directory holds the filled-in values.

It is registered in MMEngine's root ``RUNNERS``: ``tools/train.py`` looks
``runner_type`` up before any default scope is set, and MMPose's registry
finds it there too (a child searches its parent).
"""
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .dataset_keypoints import apply_dataset_keypoints


@RUNNERS.register_module()
class PromptPoseRunner(Runner):
    """MMEngine's ``Runner`` with the model's keypoints taken from the
    dataset the config trains and evaluates on."""

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        """Build the runner from a config whose keypoints follow its
        dataset (see :func:`apply_dataset_keypoints`)."""
        return super().from_cfg(apply_dataset_keypoints(cfg))
