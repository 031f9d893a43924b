"""Export a top-down heatmap model to ONNX, the PromptPose prompts folded in.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from .folded import FoldedPoseModel

INPUT_NAME = 'input'
OUTPUT_NAME = 'heatmaps'
# metadata_props keys an exported file carries (all strings)
METADATA_KEYS = ('promptpose_mm.input_size', 'promptpose_mm.num_keypoints',
                 'promptpose_mm.keypoint_names',
                 'promptpose_mm.prompts_folded')


def onnx_metadata(input_size: Tuple[int, int], keypoint_names: Sequence[str],
                  prompts_folded: bool) -> Dict[str, str]:
    """The ``metadata_props`` of an exported file: the crop size
    ``'WxH'``, ``K``, the keypoint names (JSON) and whether prompts were
    folded in."""
    values = (f'{input_size[0]}x{input_size[1]}', str(len(keypoint_names)),
              json.dumps(list(keypoint_names)), str(prompts_folded).lower())
    return dict(zip(METADATA_KEYS, values))


def export_onnx(model: nn.Module,
                out_file: str,
                input_size: Tuple[int, int],
                opset: int = 18) -> Dict[str, object]:
    """Write an eval-mode top-down heatmap model as ONNX.

    The graph is :class:`FoldedPoseModel`: input ``'input'`` ``(B, 3, H,
    W)`` float32 (normalised crops, as the data preprocessor gives them),
    output ``'heatmaps'`` ``(B, K, H_out, W_out)``, the batch dynamic. It is
    checked with ``onnx.checker`` (full check, with shape inference) before
    it is moved into place: ``out_file`` is written whole or not at all.

    Args:
        model (nn.Module): a ``TopdownPoseEstimator`` with ``dataset_meta``
            (``init_model`` gives one); moved to the CPU.
        out_file (str): the ``.onnx`` file to write.
        input_size (tuple[int, int]): crop ``(width, height)``, the
            config's codec ``input_size``.
        opset (int): the ONNX opset.

    Returns:
        dict: ``file``, ``bytes`` (file size), ``parameters`` (numbers held
        by the graph's initializers), ``nodes``, ``metadata``.
    """
    import onnx
    folded = FoldedPoseModel(model.cpu())
    width, height = input_size
    meta = getattr(model, 'dataset_meta', None) or {}
    num_keypoints = meta.get('num_keypoints')
    names = [meta['keypoint_id2name'][i] for i in range(num_keypoints)] \
        if num_keypoints else []
    # batch 2: an example of size 1 would let the exporter fix the batch
    example = torch.randn(2, 3, height, width)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    part = out_file + '.part'
    try:
        batch = torch.export.Dim('batch', min=1, max=4096)
        program = torch.onnx.export(
            folded, (example, ),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes={'inputs': {
                0: batch
            }},
            opset_version=opset,
            optimize=True,
            verbose=False)
        program.save(part)
        proto = onnx.load(part)
        metadata = onnx_metadata(input_size, names, folded.prompts is not None)
        del proto.metadata_props[:]
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, part)
        os.replace(part, out_file)
    finally:
        if osp.exists(part):
            os.remove(part)
    # counted from the proto in memory: the file is not read again
    return dict(
        file=out_file,
        bytes=osp.getsize(out_file),
        parameters=sum(
            math.prod(tensor.dims) for tensor in proto.graph.initializer),
        nodes=len(proto.graph.node),
        metadata=metadata)


def verify_onnx(model: nn.Module,
                model_file: str,
                input_size: Tuple[int, int],
                batch_size: int = 2,
                seed: int = 0) -> float:
    """The largest difference between onnxruntime's heatmaps from
    ``model_file`` and ``model``'s (eval mode) on a random batch.

    Returns:
        float: ``max |ort - torch|`` over the heatmaps.
    """
    import onnxruntime as ort
    width, height = input_size
    inputs = torch.randn(
        batch_size,
        3,
        height,
        width,
        generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = FoldedPoseModel(model.cpu())(inputs).numpy()
    session = ort.InferenceSession(
        model_file, providers=['CPUExecutionProvider'])
    found, = session.run(None, {INPUT_NAME: inputs.numpy()})
    return float(abs(found - expected).max())


def input_size_of(cfg) -> Optional[Tuple[int, int]]:
    """The codec's ``input_size`` ``(width, height)`` of a config."""
    codec = cfg.get('codec') or cfg.model.head.get('decoder') or {}
    size = codec.get('input_size')
    return tuple(size) if size else None
