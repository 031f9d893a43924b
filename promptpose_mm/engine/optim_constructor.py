"""The optimiser constructor of the PromptPose configs.

The paper configs exempt biases and normalisation layers from weight decay
with ``paramwise_cfg`` decay multipliers. MMEngine
multiplies those with the optimiser's ``weight_decay`` and refuses a config
that sets none (``ValueError: base_wd should not be None``), which is what a
downstream config gets when it replaces the optimiser, e.g.
``optimizer=dict(_delete_=True, type='Adam', lr=1e-3)``.

:class:`PromptPoseOptimWrapperConstructor` is MMPose's
``ForceDefaultOptimWrapperConstructor`` that, in that one case, takes the
optimiser's own default (what torch would use when the config says nothing:
0 for Adam and SGD, 0.01 for AdamW) as the base, so the rules stay as written
and the optimiser behaves as its class documents. An optimiser that takes no
``weight_decay`` at all is an error that says which rules to drop.

It also makes ``mim train ... --amp`` train on a CPU: where MMEngine's
``AmpOptimWrapper`` is asked for and the model is on the CPU, it builds
:class:`~promptpose_mm.engine.cpu_amp.CPUAmpOptimWrapper` (bfloat16
autocast) instead of MMEngine's, which needs an accelerator.
"""
import copy
import inspect
from typing import Optional

from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpose.engine.optim_wrappers import ForceDefaultOptimWrapperConstructor
from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS
from torch import nn

from promptpose_mm.utils.precision import device_type

_DECAY_KEYS = ('bias_decay_mult', 'norm_decay_mult', 'dwconv_decay_mult',
               'flat_decay_mult')


def uses_decay_multipliers(paramwise_cfg: Optional[dict]) -> bool:
    """Whether ``paramwise_cfg`` scales weight decay anywhere."""
    if not paramwise_cfg:
        return False
    if any(paramwise_cfg.get(key) is not None for key in _DECAY_KEYS):
        return True
    return any('decay_mult' in rule
               for rule in paramwise_cfg.get('custom_keys', {}).values())


def default_weight_decay(optimizer_type) -> float:
    """The ``weight_decay`` an optimiser class uses when given none.

    Args:
        optimizer_type (str | type): a name in ``mmpose.registry.OPTIMIZERS``
            (torch's optimisers among them) or the class itself.

    Raises:
        ValueError: the optimiser takes no ``weight_decay`` argument.
    """
    cls = (
        OPTIMIZERS.get(optimizer_type)
        if isinstance(optimizer_type, str) else optimizer_type)
    if cls is None:
        raise KeyError(f'optimizer type {optimizer_type!r} is not registered '
                       'in mmpose.registry.OPTIMIZERS')
    parameter = inspect.signature(cls).parameters.get('weight_decay')
    if parameter is None or parameter.default is inspect.Parameter.empty:
        name = getattr(cls, '__name__', optimizer_type)
        raise ValueError(
            f'optimizer {name} has no default weight_decay, but the '
            "config's optim_wrapper.paramwise_cfg scales weight decay "
            '(bias_decay_mult, norm_decay_mult or a custom_keys decay_mult, '
            'inherited from the PromptPose configs). Set '
            'optim_wrapper.optimizer.weight_decay, or replace the rules: '
            'optim_wrapper=dict(paramwise_cfg=dict(_delete_=True, ...)).')
    return float(parameter.default)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PromptPoseOptimWrapperConstructor(ForceDefaultOptimWrapperConstructor):
    """``ForceDefaultOptimWrapperConstructor`` whose decay rules work with an
    optimiser config that sets no ``weight_decay``.

    Args:
        optim_wrapper_cfg (dict): ``optim_wrapper`` of the config, with its
            ``optimizer``.
        paramwise_cfg (dict, optional): the decay and lr rules, as for
            MMEngine's ``DefaultOptimWrapperConstructor``.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        optimizer = optim_wrapper_cfg.get('optimizer', {})
        if ('weight_decay' not in optimizer
                and uses_decay_multipliers(paramwise_cfg)):
            optim_wrapper_cfg = copy.deepcopy(optim_wrapper_cfg)
            optim_wrapper_cfg['optimizer']['weight_decay'] = (
                default_weight_decay(optimizer['type']))
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """The optimiser wrapper of ``model``; ``AmpOptimWrapper`` of a
        model on the CPU becomes ``CPUAmpOptimWrapper``."""
        kind = self.optim_wrapper_cfg.get('type', 'OptimWrapper')
        if (kind in ('AmpOptimWrapper', AmpOptimWrapper)
                and device_type(model) == 'cpu'):
            self.optim_wrapper_cfg = dict(
                self.optim_wrapper_cfg, type='CPUAmpOptimWrapper')
        return super().__call__(model)
