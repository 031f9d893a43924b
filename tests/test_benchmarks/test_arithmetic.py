"""Multiply-accumulate counts: the CPU's fused attention kernels against the
hand formula and against the unfused path, an ONNX graph's products against
a hand count, and the two counters against each other on exported models.
"""
import os.path as osp

import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

from benchmarks.arithmetic import mac_counter, onnx_macs
from promptpose_mm.apis import build_inference_model
from promptpose_mm.deployment import FoldedPoseModel, export_onnx
from promptpose_mm.deployment.onnx_export import input_size_of
from tests.paths import PROMPTPOSE_CONFIGS, TINY_CONFIGS

FAST_PATH = 'aten._native_multi_head_attention'


def _count(run) -> tuple:
    """(MACs, {op: MACs}) of ``run()``."""
    with mac_counter() as counter:
        run()
    ops = {
        str(op): flops // 2
        for op, flops in counter.get_flop_counts()['Global'].items()
    }
    return counter.get_total_flops() // 2, ops


def test_multihead_attention_fast_path_is_counted():
    """nn.MultiheadAttention's inference kernel counts the projections and
    the attention by hand, as its training path does op by op."""
    torch.manual_seed(0)
    batch, tokens, dim, heads = 2, 10, 64, 4
    attention = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    x = torch.randn(batch, tokens, dim)
    # q, k, v and output projections; scores and the weighted sum
    by_hand = 4 * batch * tokens * dim * dim + 2 * batch * tokens**2 * dim
    attention.eval()
    with torch.inference_mode():
        fast, ops = _count(lambda: attention(x, x, x, need_weights=False))
    assert FAST_PATH in ops  # the fused kernel ran
    assert fast == by_hand == 353280
    attention.train()
    slow, ops = _count(lambda: attention(x, x, x, need_weights=False))
    assert FAST_PATH not in ops
    assert slow == by_hand


def test_cpu_scaled_dot_product_attention_forward_and_backward():
    """F.scaled_dot_product_attention on the CPU: 2 products forward, the
    scores again and 4 products backward (dV, dP, dQ, dK)."""
    torch.manual_seed(0)
    batch, heads, tokens, channels = 2, 3, 7, 8
    q, k, v = (
        torch.randn(batch, heads, tokens, channels, requires_grad=True)
        for _ in range(3))
    product = batch * heads * tokens * tokens * channels
    with mac_counter() as forward:
        out = F.scaled_dot_product_attention(q, k, v)
    with mac_counter() as backward:
        out.sum().backward()
    assert forward.get_total_flops() // 2 == 2 * product
    assert backward.get_total_flops() // 2 == 5 * product
    # without the counter's formulas PyTorch counts none of it
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as plain:
        F.scaled_dot_product_attention(q, k, v)
    assert plain.get_total_flops() == 0


def _graph(nodes, inputs, output, initializers) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, 'g', inputs, [output], initializers)
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 18)])


def test_onnx_macs_by_hand():
    """MatMul (3-D by 2-D), Gemm with transA, grouped Conv, strided
    ConvTranspose and Einsum against their hand counts."""
    import numpy as np

    def weight(name, *shape):
        return numpy_helper.from_array(np.zeros(shape, np.float32), name)

    def value(name, *shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    model = _graph([
        helper.make_node('MatMul', ['x', 'w'], ['m']),
        helper.make_node('Gemm', ['a', 'g'], ['gemm'], transA=1),
        helper.make_node(
            'Conv', ['img', 'c'], ['conv'], group=2, pads=[1, 1, 1, 1]),
        helper.make_node(
            'ConvTranspose', ['conv', 't'], ['up'],
            strides=[2, 2],
            pads=[1, 1, 1, 1]),
        helper.make_node(
            'Einsum', ['up', 'e'], ['score'], equation='bchw,kc->bkhw'),
    ], [
        value('x', 'batch', 5, 6),
        value('a', 6, 4),
        value('img', 'batch', 4, 8, 8)
    ], value('score', None, None, None, None), [
        weight('w', 6, 7),
        weight('g', 6, 3),
        weight('c', 8, 2, 3, 3),
        weight('t', 8, 3, 4, 4),
        weight('e', 9, 3)
    ])
    macs = onnx_macs(model, batch=2)
    assert macs == dict(
        MatMul=2 * 5 * 7 * 6,  # (2, 5, 7) outputs, 6 terms each
        Gemm=4 * 3 * 6,  # A is (6, 4) transposed: (4, 3) outputs
        Conv=2 * 8 * 8 * 8 * 2 * 3 * 3,  # 2 in-channels a group
        ConvTranspose=2 * 8 * 8 * 8 * 3 * 4 * 4,  # each input, 3x4x4 taps
        Einsum=2 * 3 * 16 * 16 * 9)  # b, c, h, w (16 = 2 x 8), k
    assert onnx_macs(model, batch=1)['MatMul'] == 5 * 7 * 6
    bad = _graph([helper.make_node('MatMul', ['x', 'y'], ['z'])],
                 [value('x', 2, 'n'), value('y', 'n', 3)], value('z', 2,
                                                                 3), [])
    with pytest.raises(ValueError, match='shapes not inferred'):
        onnx_macs(bad)


def _torch_macs(model) -> tuple:
    folded = FoldedPoseModel(model).eval()
    width, height = input_size_of(model.cfg)
    crop = torch.randn(1, 3, height, width)
    with torch.inference_mode():
        folded(crop)  # prompts cached, as at inference
        return _count(lambda: folded(crop))


@pytest.mark.parametrize('kind', sorted(TINY_CONFIGS))
def test_pytorch_count_equals_the_exported_graph(kind, tmp_path):
    """The same model counted two independent ways: PyTorch's kernels as
    they run, and the exported graph's nodes from their shapes."""
    torch.manual_seed(0)
    model = build_inference_model(TINY_CONFIGS[kind])
    out = str(tmp_path / 'model.onnx')
    export_onnx(model, out, input_size_of(model.cfg))
    total, ops = _torch_macs(model)
    if kind == 'vit':
        assert FAST_PATH in ops
    assert total == sum(onnx_macs(out).values()) > 0


@pytest.mark.slow
def test_vit_b16_inference_arithmetic():
    """PromptPose CLIP ViT-B/16 at 256x256: 25.41 GMAC a crop, 8.49 of them
    in the 12 fused attention kernels (257 tokens, 768 channels)."""
    torch.manual_seed(0)
    model = build_inference_model(
        osp.join(PROMPTPOSE_CONFIGS,
                 'td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256.py'))
    total, ops = _torch_macs(model)
    tokens, dim = 257, 768
    assert ops[FAST_PATH] == 12 * (4 * tokens * dim * dim +
                                   2 * tokens**2 * dim) == 8493484032
    assert total == 25407747072
