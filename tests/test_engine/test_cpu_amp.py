"""``--amp`` on a CPU: the optimiser wrapper MMPose's ``--amp`` asks for
becomes the plugin's bfloat16 one for a model on the CPU, trains a step
in bfloat16 with float32 weights and losses, and is refused on a CPU without
bfloat16 units. The real ``mim train --amp`` runs in
tests/test_configs/test_checkpoint_real_runs.py."""
import pytest
import torch
from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import promptpose_mm  # noqa: F401  (registers)
from promptpose_mm.engine import CPUAmpOptimWrapper
from promptpose_mm.utils import precision as prec
from promptpose_mm.utils.precision import PrecisionError
from tests.paths import TINY, TINY_BASELINE
from tests.test_configs.test_configs import load_offline, train_one_step


def amp_config(path: str = TINY):
    """A tiny config as ``tools/train.py --amp`` leaves it."""
    cfg = load_offline(path)
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    return cfg


@pytest.fixture
def bf16_cpu(monkeypatch):
    monkeypatch.setattr(prec, 'cpu_flags',
                        lambda: frozenset({'avx512f', 'avx512_bf16'}))


@pytest.mark.parametrize(
    'path', [TINY, TINY_BASELINE], ids=['promptpose', 'simplebaseline'])
def test_amp_on_cpu_trains_a_step_in_bfloat16(bf16_cpu, path):
    init_default_scope('mmpose')
    torch.manual_seed(0)
    cfg = amp_config(path)
    model = MODELS.build(cfg.model)
    model.init_weights()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper) is CPUAmpOptimWrapper
    assert not isinstance(wrapper, AmpOptimWrapper)
    # the forward runs in bfloat16 autocast
    seen = []
    hook = model.backbone.register_forward_hook(
        lambda module, args, output: seen.append(output[-1].dtype))
    losses, changed = train_one_step(model, cfg, wrapper)
    hook.remove()
    assert seen == [torch.bfloat16]
    assert 'loss_kpt' in losses
    if path == TINY:
        assert {'loss_pixel', 'loss_semantic'} <= set(losses)
    for value in losses.values():
        assert value.dtype == torch.float32 and torch.isfinite(value)
    assert any(name.startswith('backbone.') for name in changed)
    assert any(name.startswith('head.') for name in changed)
    # weights and optimiser state stay float32
    assert {param.dtype for param in model.parameters()} == {torch.float32}
    # and the prompts of the text path are float32 under autocast
    if path == TINY:
        model.eval()
        with torch.autocast('cpu', torch.bfloat16):
            assert model.neck.prompts().dtype == torch.float32


def test_amp_is_refused_on_a_cpu_without_bfloat16(monkeypatch):
    monkeypatch.setattr(prec, 'cpu_flags', lambda: frozenset({'avx2'}))
    init_default_scope('mmpose')
    cfg = amp_config()
    model = MODELS.build(cfg.model)
    with pytest.raises(PrecisionError, match='no bfloat16 units'):
        build_optim_wrapper(model, cfg.optim_wrapper)


def test_float16_is_refused_on_a_cpu(bf16_cpu):
    init_default_scope('mmpose')
    cfg = amp_config()
    cfg.optim_wrapper.dtype = 'float16'
    model = MODELS.build(cfg.model)
    with pytest.raises(PrecisionError, match='float16'):
        build_optim_wrapper(model, cfg.optim_wrapper)


def test_plain_training_keeps_its_wrapper():
    init_default_scope('mmpose')
    cfg = load_offline(TINY)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'OptimWrapper'
