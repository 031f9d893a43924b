"""Reduced precision: the device checks (a CPU without bfloat16 units is
mocked), the config and API settings, the tools' option, and the numbers
bfloat16 gives on a real frame against float32."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpose.apis import inference_topdown
from mmpose.apis import init_model as mmpose_init_model

from promptpose_mm.apis import init_model
from promptpose_mm.apis.builder import with_precision
from promptpose_mm.utils import precision as prec
from promptpose_mm.utils.precision import (PrecisionError, cpu_flags,
                                           resolve_precision, set_precision)
from tests.paths import REACHING, TINY, load_tool

FRAME = osp.join(REACHING, 'labeled-data', 'reachingvideo1', 'img005.png')
HAS_BF16 = bool(prec.cpu_bfloat16_units())


@pytest.fixture
def cpu(monkeypatch):
    """Set the CPU's flags: ``cpu({'avx512f'})``."""

    def set_flags(flags):
        monkeypatch.setattr(prec, 'cpu_flags', lambda: frozenset(flags))

    return set_flags


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    path = tmp_path / 'cpuinfo'
    path.write_text('processor\t: 0\nmodel name\t: X\n'
                    'flags\t\t: fpu avx512f avx512_bf16 amx_tile\n\n'
                    'processor\t: 1\nflags\t\t: fpu\n')
    assert cpu_flags(
        str(path)) == {'fpu', 'avx512f', 'avx512_bf16', 'amx_tile'}
    assert prec.cpu_bfloat16_units(cpu_flags(str(path))) == {'avx512_bf16'}
    assert cpu_flags(str(tmp_path / 'missing')) == frozenset()


def test_auto_follows_the_device(cpu):
    cpu({'avx512f', 'amx_bf16'})
    assert resolve_precision('auto', 'cpu') == 'bfloat16'
    assert resolve_precision('bfloat16', 'cpu') == 'bfloat16'
    cpu({'avx512f', 'avx512_bf16'})
    assert resolve_precision('auto', 'cpu') == 'bfloat16'
    cpu({'avx512f', 'avx2'})
    assert resolve_precision('auto', 'cpu') == 'float32'
    assert resolve_precision('float32', 'cpu') == 'float32'
    # CUDA: half precision by default, either type on request
    assert resolve_precision('auto', 'cuda:0') == 'float16'
    assert resolve_precision('bfloat16', torch.device('cuda', 1)) == \
        'bfloat16'


def test_bfloat16_is_refused_on_a_cpu_without_its_units(cpu):
    cpu({'avx512f', 'avx2', 'fma'})
    with pytest.raises(PrecisionError) as error:
        resolve_precision('bfloat16', 'cpu')
    assert 'no bfloat16 units' in str(error.value)
    assert 'use float32' in str(error.value)
    with pytest.raises(PrecisionError, match='float16 runs on CUDA only'):
        resolve_precision('float16', 'cpu')
    with pytest.raises(PrecisionError, match='unknown precision'):
        resolve_precision('int8', 'cpu')


def test_config_setting_and_its_errors(cpu):
    cpu({'avx512_bf16'})
    cfg = Config.fromfile(TINY)
    assert cfg.model.get('precision') is None
    set_cfg = with_precision(cfg, 'auto', 'cpu')
    assert set_cfg.model.precision == 'bfloat16'
    assert cfg.model.get('precision') is None  # a copy was changed
    assert with_precision(cfg, None, 'cpu') is cfg
    with pytest.raises(PrecisionError, match='exported model'):
        with_precision(cfg, 'bfloat16', 'cpu', checkpoint='model.onnx')
    assert with_precision(cfg, 'float32', 'cpu', 'model.onnx') is cfg
    plain = cfg.copy()
    plain.model.type = 'TopdownPoseEstimator'
    with pytest.raises(PrecisionError, match='TopdownPoseEstimator'):
        with_precision(plain, 'bfloat16', 'cpu')
    cpu({'avx2'})
    with pytest.raises(PrecisionError, match='no bfloat16 units'):
        with_precision(cfg, 'bfloat16', 'cpu')
    with pytest.raises(PrecisionError, match='has no precision setting'):
        set_precision(torch.nn.Linear(2, 2), 'float32')


def test_tools_take_the_precision_option():
    for tool in ('analyze_video.py', 'analysis/video_against_labels.py'):
        args = load_tool(tool).parse_args([
            'in.slp' if 'labels' in tool else 'in.mp4', '--config', 'c.py',
            '--checkpoint', 'k.pth', '--precision', 'bfloat16'
        ])
        assert args.precision == 'bfloat16'
    for tool in ('analysis/score_maps.py', 'analysis/semantic_similarity.py'):
        module = load_tool(tool)
        with pytest.raises(SystemExit):
            module.parse_args(['--precision', 'half'])


@pytest.fixture(scope='module')
def checkpoint(random_checkpoint, tmp_path_factory):
    folder = tmp_path_factory.mktemp('precision')
    return random_checkpoint(TINY, str(folder / 'model.pth'))


def heatmaps(model, box) -> np.ndarray:
    """The model's heatmaps ``(K, h, w)`` of the box on the frame, and its
    keypoints."""
    result = inference_topdown(model, FRAME, box)[0]
    return (result.pred_fields.heatmaps.numpy(),
            result.pred_instances.keypoints[0])


@pytest.mark.skipif(not HAS_BF16, reason='this CPU has no bfloat16 units')
def test_bfloat16_on_a_real_frame_matches_float32(checkpoint):
    box = np.array([[120., 40., 440., 360.]])
    reference = mmpose_init_model(
        TINY,
        checkpoint,
        device='cpu',
        cfg_options=dict(model=dict(test_cfg=dict(output_heatmaps=True))))
    model = init_model(
        TINY,
        checkpoint,
        device='cpu',
        cfg_options=dict(model=dict(test_cfg=dict(output_heatmaps=True))),
        precision='bfloat16')
    assert model.precision == 'bfloat16'
    want, _ = heatmaps(reference, box)
    got, _ = heatmaps(model, box)
    assert got.dtype == np.float32
    # the convolutions ran in bfloat16: not bit-equal to float32, and close
    # (bfloat16 keeps 8 bits of mantissa: about 0.4 % per product)
    spread = want.max() - want.min()
    difference = np.abs(got - want).max() / spread
    assert 0 < difference < 0.05
    # the prompts stay float32, computed once
    prompts = model.neck.prompts()
    assert prompts.dtype == torch.float32
    assert model.neck.prompts() is prompts
    # the weights were put in channels-last memory
    conv = next(m for m in model.backbone.modules()
                if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    # and float32 again on request, on the same model
    set_precision(model, 'float32')
    again, _ = heatmaps(model, box)
    np.testing.assert_allclose(again, want, atol=1e-4 * spread)
