"""Arithmetic of a model in multiply-accumulates (MACs): counted while
PyTorch runs it, or read from an exported ONNX graph.

:func:`mac_counter` is ``torch.utils.flop_counter.FlopCounterMode`` with
formulas for the CPU's fused attention kernels, for which PyTorch has none:

* ``aten._native_multi_head_attention``, the inference fast path of
  ``nn.MultiheadAttention`` (eval mode, no autograd, batch first): the
  query, key, value and output projections and the attention in one
  kernel, 708 M MACs per CLIP ViT-B/16 layer at 256x256;
* ``aten._scaled_dot_product_flash_attention_for_cpu`` and its backward,
  what ``F.scaled_dot_product_attention`` runs on the CPU.

Without them a CLIP ViT-B/16 inference step counted 16.9 GMAC an image
instead of 25.4.

:func:`onnx_macs` counts the ``MatMul``, ``Gemm``, ``Conv``,
``ConvTranspose`` and ``Einsum`` nodes of an ONNX graph from its inferred
shapes: a count independent of PyTorch's kernels, which the tests hold
:func:`mac_counter` to on exported models.
"""
import math
from collections import Counter
from typing import Dict, List, Sequence, Union

import torch
from torch.utils.flop_counter import (FlopCounterMode,
                                      sdpa_backward_flop_count,
                                      sdpa_flop_count)

aten = torch.ops.aten


def _native_multi_head_attention_flop(query_shape: Sequence[int],
                                      key_shape: Sequence[int],
                                      value_shape: Sequence[int],
                                      embed_dim: int,
                                      num_head: int,
                                      *args,
                                      out_shape=None,
                                      **kwargs) -> int:
    """FLOPs (2 per MAC) of ``nn.MultiheadAttention``'s fused kernel.

    Args:
        query_shape: ``(B, Lq, E)``; ``key_shape`` and ``value_shape``:
            ``(B, Lk, E)`` (the fast path is batch first).
        embed_dim: ``E``; ``num_head``: ``H``, each of ``E // H`` channels.

    Returns:
        int: ``2 * B * E * E * (2 * Lq + 2 * Lk)`` for the projections (query
        and output at ``Lq`` tokens, key and value at ``Lk``) plus the
        attention's two products, ``2 * 2 * B * Lq * Lk * E``.
    """
    batch, queries, _ = query_shape
    keys = key_shape[1]
    projections = 2 * batch * embed_dim * embed_dim * (2 * queries + 2 * keys)
    channels = embed_dim // num_head
    query = (batch, num_head, queries, channels)
    key = (batch, num_head, keys, channels)
    return projections + sdpa_flop_count(query, key, key)


def _cpu_flash_attention_flop(query_shape: Sequence[int],
                              key_shape: Sequence[int],
                              value_shape: Sequence[int],
                              *args,
                              out_shape=None,
                              **kwargs) -> int:
    """FLOPs of ``F.scaled_dot_product_attention`` on the CPU; shapes
    ``(B, H, L, D)``."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_flash_attention_backward_flop(grad_out_shape: Sequence[int],
                                       query_shape: Sequence[int],
                                       key_shape: Sequence[int],
                                       value_shape: Sequence[int],
                                       *args,
                                       out_shape=None,
                                       **kwargs) -> int:
    """FLOPs of its backward (the scores recomputed, then four products),
    as PyTorch counts the GPU kernels' backward."""
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape,
                                    value_shape)


CPU_ATTENTION_FLOPS = {
    aten._native_multi_head_attention:
    _native_multi_head_attention_flop,
    aten._scaled_dot_product_flash_attention_for_cpu:
    _cpu_flash_attention_flop,
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
    _cpu_flash_attention_backward_flop,
}


def mac_counter() -> FlopCounterMode:
    """A quiet ``FlopCounterMode`` that also counts the CPU's fused
    attention kernels; its ``get_total_flops() / 2`` is MACs."""
    return FlopCounterMode(
        display=False, custom_mapping=dict(CPU_ATTENTION_FLOPS))


def _einsum_macs(equation: str, shapes: List[List[int]]) -> int:
    """MACs of a two-operand ``Einsum``: the product of the sizes of all its
    indices (each output element sums over the contracted ones)."""
    inputs = equation.replace(' ', '').split('->')[0].split(',')
    sizes = {}
    for letters, shape in zip(inputs, shapes):
        if '...' in letters or len(letters) != len(shape):
            raise ValueError(f'Einsum {equation!r} with shapes {shapes}: '
                             'only explicit indices are counted')
        sizes.update(zip(letters, shape))
    return math.prod(sizes.values())


def onnx_macs(
        model: Union[str, 'onnx.ModelProto'],  # noqa: F821
        batch: int = 1) -> Dict[str, int]:
    """MACs of an ONNX graph's products and convolutions, by node type.

    Args:
        model: an ``.onnx`` path or a loaded ``onnx.ModelProto``.
        batch: the size given to every dynamic first input dimension.

    Returns:
        dict: ``{op_type: MACs}`` for ``MatMul``, ``Gemm``, ``Conv``,
        ``ConvTranspose`` and ``Einsum``; element-wise work is not counted
        (as in :func:`mac_counter`).

    Raises:
        ValueError: a counted node whose shapes could not be inferred.
    """
    import onnx
    from onnx import shape_inference
    if isinstance(model, str):
        model = onnx.load(model)
    else:
        model = onnx.ModelProto.FromString(model.SerializeToString())
    initializers = {t.name for t in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        first = value.type.tensor_type.shape.dim[0]
        if not first.HasField('dim_value'):
            first.dim_value = batch
    model = shape_inference.infer_shapes(model, data_prop=True)
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    graph = model.graph
    for value in (*graph.value_info, *graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [
            d.dim_value if d.HasField('dim_value') else None for d in dims
        ]
    for node in graph.node:
        if node.op_type == 'Constant':
            for attribute in node.attribute:
                if attribute.name == 'value':
                    shapes[node.output[0]] = list(attribute.t.dims)
    macs: Dict[str, int] = Counter()
    for node in graph.node:
        if node.op_type not in ('MatMul', 'Gemm', 'Conv', 'ConvTranspose',
                                'Einsum'):
            continue
        known = [
            shapes.get(name) for name in (*node.input, node.output[0]) if name
        ]
        if any(s is None or None in s for s in known):
            raise ValueError(f'{node.op_type} node {node.name!r}: shapes '
                             f'not inferred ({known}); export with static '
                             'spatial sizes')
        first, second, out = shapes[node.input[0]], shapes[
            node.input[1]], shapes[node.output[0]]
        attributes = {a.name: a for a in node.attribute}
        if node.op_type == 'MatMul':
            count = math.prod(out) * first[-1]
        elif node.op_type == 'Gemm':
            transposed = 'transA' in attributes and attributes['transA'].i
            count = math.prod(out) * first[0 if transposed else 1]
        elif node.op_type == 'Conv':
            # weight (out, in / groups, *kernel)
            count = math.prod(out) * math.prod(second[1:])
        elif node.op_type == 'ConvTranspose':
            # weight (in, out / groups, *kernel): every input element
            # reaches out / groups channels at every kernel tap
            count = math.prod(first) * math.prod(second[1:])
        else:
            equation = attributes['equation'].s.decode()
            count = _einsum_macs(equation,
                                 [shapes[name] for name in node.input])
        macs[node.op_type] += count
    return dict(macs)
