"""A value computed once in eval mode and reused until its weights change."""
from typing import Callable, Hashable, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn


def parameters_key(modules: Sequence[nn.Module]) -> Hashable:
    """A key that changes whenever a parameter of ``modules`` may have.

    It holds, per parameter, its in-place version counter (bumped by
    optimizer steps, ``copy_`` and ``load_state_dict``), its storage address
    (changed by ``.to()``, ``.cuda()`` or a replaced ``.data``), dtype and
    device.
    """
    return tuple((param._version, param.data_ptr(), param.dtype, param.device)
                 for module in modules for param in module.parameters())


class EvalCache:
    """Remember ``compute()``'s result until the watched parameters change.

    Used for what does not depend on the image (the keypoint prompts), so
    that inference, flip test included, computes it once. The value is
    computed under ``torch.no_grad``: callers use the cache in eval mode
    only and compute afresh, with gradients, in training.

    Args:
        modules (Sequence[nn.Module]): the modules whose parameters the
            value depends on.
    """

    def __init__(self, modules: Sequence[nn.Module]):
        self._modules = list(modules)
        self._entry: Optional[Tuple[Hashable, Tensor]] = None

    def get(self, compute: Callable[[], Tensor]) -> Tensor:
        """The cached value, after ``compute()`` if a parameter changed."""
        key = parameters_key(self._modules)
        if self._entry is None or self._entry[0] != key:
            with torch.no_grad():
                self._entry = (key, compute())
        return self._entry[1]

    def clear(self) -> None:
        """Forget the value (it is computed again on the next ``get``)."""
        self._entry = None
