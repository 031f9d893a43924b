"""PromptPoseOptimWrapperConstructor: the paper configs' decay rules with a
downstream optimiser that sets no weight_decay (plain Adam)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import OPTIMIZERS
from torch import nn

import promptpose_mm  # noqa: F401  (registers)
from promptpose_mm.engine import default_weight_decay, uses_decay_multipliers
from tests.paths import ROOT

PAPER = osp.join(ROOT, 'configs', 'promptpose',
                 'td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py')


class Tiny(nn.Module):
    """A conv, a BatchNorm and an attention block: every rule's target."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.attn = nn.MultiheadAttention(4, 2)


def downstream(tmp_path, optimizer: str) -> Config:
    """A config inheriting the paper config that replaces the optimiser."""
    path = tmp_path / 'downstream.py'
    path.write_text(f'_base_ = [{PAPER!r}]\n'
                    f'optim_wrapper = dict(optimizer=dict(_delete_=True, '
                    f'{optimizer}))\n')
    return Config.fromfile(str(path))


def decay_by_name(optim_wrapper, model: nn.Module) -> dict:
    names = {id(p): n for n, p in model.named_parameters()}
    return {
        names[id(p)]: group['weight_decay']
        for group in optim_wrapper.optimizer.param_groups
        for p in group['params']
    }


def build(cfg: Config, model: nn.Module):
    init_default_scope('mmpose')
    return build_optim_wrapper(model, cfg.optim_wrapper)


@pytest.mark.parametrize('optimizer, base', [("type='Adam', lr=1e-3", 0.),
                                             ("type='AdamW', lr=1e-3", 0.01),
                                             ("type='SGD', lr=0.1", 0.)])
def test_optimizer_without_weight_decay_keeps_its_default(
        tmp_path, optimizer, base):
    cfg = downstream(tmp_path, optimizer)
    assert 'weight_decay' not in cfg.optim_wrapper.optimizer
    model = Tiny()
    decay = decay_by_name(build(cfg, model), model)
    # the class's own default on weights, the rules' zero on the rest
    assert decay['conv.weight'] == pytest.approx(base)
    assert decay['attn.in_proj_weight'] == pytest.approx(base)
    assert decay['attn.out_proj.weight'] == pytest.approx(base)
    for name in ('conv.bias', 'bn.weight', 'bn.bias', 'attn.in_proj_bias',
                 'attn.out_proj.bias'):
        assert decay[name] == 0., name
    # and the user's config object is not modified
    assert 'weight_decay' not in cfg.optim_wrapper.optimizer


def test_mmpose_constructor_alone_fails_on_the_same_config(tmp_path):
    """The trap the constructor removes (fails if it is not in use)."""
    cfg = downstream(tmp_path, "type='Adam', lr=1e-3")
    cfg.optim_wrapper.constructor = 'ForceDefaultOptimWrapperConstructor'
    with pytest.raises(ValueError, match='base_wd should not be None'):
        build(cfg, Tiny())


def test_explicit_weight_decay_is_used_as_written(tmp_path):
    cfg = Config.fromfile(PAPER)
    model = Tiny()
    decay = decay_by_name(build(cfg, model), model)
    assert decay['conv.weight'] == pytest.approx(1e-4)
    assert decay['attn.in_proj_bias'] == 0.
    assert decay['bn.weight'] == 0.


class NoDecay(torch.optim.Optimizer):
    """An optimiser that takes no weight_decay."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, dict(lr=lr))


def test_optimizer_without_a_weight_decay_argument_is_a_clear_error(tmp_path):
    OPTIMIZERS.register_module(module=NoDecay, force=True)
    cfg = downstream(tmp_path, "type='NoDecay', lr=0.1")
    with pytest.raises(ValueError) as error:
        build(cfg, Tiny())
    message = str(error.value)
    assert 'NoDecay' in message and 'paramwise_cfg' in message
    assert 'optim_wrapper.optimizer.weight_decay' in message


def test_helpers():
    assert default_weight_decay('Adam') == 0.
    assert default_weight_decay(torch.optim.AdamW) == 0.01
    assert not uses_decay_multipliers(None)
    assert not uses_decay_multipliers(
        dict(custom_keys={'a': dict(lr_mult=0.1)}))
    assert uses_decay_multipliers(dict(norm_decay_mult=0.))
    assert uses_decay_multipliers(
        dict(custom_keys={'in_proj_bias': dict(decay_mult=0.)}))
    with pytest.raises(KeyError, match='not registered'):
        default_weight_decay('NoSuchOptimizer')
