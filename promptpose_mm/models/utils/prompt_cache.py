"""The eval-mode keypoint prompts, computed once and kept until stale.

The prompts before PromptPose's context decoder depend on weights only,
not on the image, so inference (flip test included) computes them once.
:class:`PromptCache` holds them and drops them on
the public signals that the weights may have changed:

* an optimizer step, any optimizer (a global
  ``torch.optim.optimizer.register_optimizer_step_post_hook``);
* ``load_state_dict`` on the owner, an ancestor or any watched module or
  submodule (``register_load_state_dict_post_hook``), mmengine's loader
  included;
* a dtype, device or storage change of a watched parameter (``.to()``,
  ``.cuda()``, ``.double()``, ``.half()``, a replaced ``.data``);
* :meth:`PromptCache.clear`, which the owner calls on a mode switch.

An in-place edit outside these (``param.add_()`` under ``no_grad``) is not
noticed: call :meth:`PromptCache.clear` after it.
"""
from typing import Any, Callable, Hashable, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.optimizer import register_optimizer_step_post_hook

_optimizer_steps = 0


def _count_optimizer_step(optimizer: Optimizer, args: Any,
                          kwargs: Any) -> None:
    """Global post-step hook: one more optimizer step, by any optimizer."""
    global _optimizer_steps
    _optimizer_steps += 1


register_optimizer_step_post_hook(_count_optimizer_step)


class PromptCache:
    """Remember ``compute()``'s result until the watched weights may change.

    The value is computed under ``torch.no_grad``; the owner uses the cache
    in eval mode only, computes afresh with gradients in training, and
    calls :meth:`clear` when its mode changes. A deep copy of the owner
    copies the cache with it: the copy's hooks and watched modules are the
    copy's own.

    Args:
        modules (Sequence[nn.Module]): the modules whose parameters the
            value depends on (their submodules included).
    """

    def __init__(self, modules: Sequence[nn.Module]):
        self._watched = list(modules)
        self._entry: Optional[Tuple[Hashable, Tensor]] = None
        for module in self._watched:
            for submodule in module.modules():
                submodule.register_load_state_dict_post_hook(self._on_load)

    def _on_load(self, module: nn.Module, incompatible_keys: Any) -> None:
        """``load_state_dict`` post hook: the loaded weights are new."""
        self.clear()

    def _key(self) -> Hashable:
        """What the value is valid for: the number of optimizer steps so
        far, and per watched parameter its dtype, device and storage."""
        return _optimizer_steps, tuple(
            (param.dtype, param.device, param.data_ptr())
            for module in self._watched for param in module.parameters())

    def get(self, compute: Callable[[], Tensor]) -> Tensor:
        """The cached value, after ``compute()`` if it may be stale.

        Args:
            compute (Callable[[], Tensor]): computes the value from the
                watched modules.

        Returns:
            Tensor: ``compute()``'s result, without gradient.
        """
        key = self._key()
        if self._entry is None or self._entry[0] != key:
            with torch.no_grad():
                self._entry = (key, compute())
        return self._entry[1]

    def clear(self) -> None:
        """Forget the value (it is computed again on the next :meth:`get`)."""
        self._entry = None
