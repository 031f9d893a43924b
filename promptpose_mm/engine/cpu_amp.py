"""Mixed-precision training on a CPU: ``mim train ... --amp`` without a GPU.

MMPose's ``tools/train.py --amp`` sets ``optim_wrapper.type =
'AmpOptimWrapper'``, and MMEngine's ``AmpOptimWrapper`` stops on a machine
without CUDA, NPU, MLU or MUSA. :class:`CPUAmpOptimWrapper` is its CPU
counterpart: the forward pass (and the loss) runs under bfloat16 autocast,
the weights, gradients and optimiser state stay float32, and no loss scaling
is needed (bfloat16 has float32's exponent range). The plugin's optimiser
constructor (:class:`~promptpose_mm.engine.PromptPoseOptimWrapperConstructor`,
which every config names) builds it where ``AmpOptimWrapper`` is asked for on
a machine with no accelerator. A CPU without bfloat16 units is refused (it
would emulate bfloat16, slower than float32).
"""
from contextlib import contextmanager
from typing import Iterator, Optional, Union

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS
from torch import nn

from promptpose_mm.utils.precision import (PrecisionError, autocast,
                                           resolve_precision)


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs in bfloat16 autocast on the CPU.

    Args:
        loss_scale (str | float | dict): accepted for the arguments of
            MMEngine's ``AmpOptimWrapper`` (``--amp`` sets ``'dynamic'``);
            bfloat16 needs no loss scaling, so it is not used.
        dtype (str | torch.dtype, optional): ``'bfloat16'`` (the default;
            None means it too). float16 is refused: on a CPU it is
            emulated.
        **kwargs: as ``OptimWrapper`` (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).

    Raises:
        PrecisionError: the CPU has no bfloat16 units, or ``dtype`` is not
        bfloat16.
    """

    def __init__(self,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 **kwargs):
        name = str(dtype or 'bfloat16').replace('torch.', '')
        self.precision = resolve_precision(name, 'cpu')
        if self.precision != 'bfloat16':
            raise PrecisionError(
                f'mixed-precision training on a CPU runs in bfloat16, not '
                f'{name}: set optim_wrapper.dtype to bfloat16 (or leave it '
                'unset)')
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16
        print_log(
            'mixed precision on the CPU: bfloat16 autocast '
            '(CPUAmpOptimWrapper)',
            logger='current')

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """The forward of a training step: gradient accumulation as
        ``OptimWrapper``, under bfloat16 autocast."""
        with super().optim_context(model), autocast(self.precision, 'cpu'):
            yield
