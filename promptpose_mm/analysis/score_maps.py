"""Run MMPose's top-down inference and keep what the prompts produced.

:func:`capture_prompt_features` wraps ``mmpose.apis.inference_topdown``:
the same pipeline, batching and flip test, plus forward hooks that keep the
network's input crops and the prompt neck's output (score maps, dense CLIP
map, prompt embeddings) of the un-flipped pass, for the figures in
``tools/analysis`` and the demo.
"""
from typing import List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from mmpose.apis import inference_topdown
from mmpose.structures import PoseDataSample
from torch import nn

from ..models.structures import PromptPoseFeatures


class PromptPoseInference(NamedTuple):
    """What :func:`capture_prompt_features` returns.

    Attributes:
        results (list[PoseDataSample]): MMPose's predictions, one per box.
        crops (np.ndarray): the network's input crops, RGB uint8,
            ``(N, H, W, 3)``.
        features (PromptPoseFeatures): the neck's output for the crops
            (not the flipped ones): ``score_map`` ``(N, K, h, w)`` etc.
    """
    results: List[PoseDataSample]
    crops: np.ndarray
    features: PromptPoseFeatures


def capture_prompt_features(model: nn.Module,
                            img: Union[np.ndarray, str],
                            bboxes: Optional[Sequence] = None,
                            bbox_format: str = 'xyxy') -> PromptPoseInference:
    """Top-down inference that also returns crops and prompt features.

    Args:
        model (nn.Module): a PromptPose ``TopdownPoseEstimator`` (built by
            ``mmpose.apis.init_model``).
        img (np.ndarray | str): image array (BGR) or path.
        bboxes (Sequence, optional): boxes ``(N, 4)``; the whole image when
            None, as in ``inference_topdown``.
        bbox_format (str): ``'xyxy'`` or ``'xywh'``.

    Returns:
        PromptPoseInference: predictions, crops and features.
    """
    neck = getattr(model, 'neck', None)
    if neck is None:
        raise ValueError(
            'the model has no prompt neck: score maps exist only for '
            'PromptPose models (a SimpleBaseline config has neck=None)')
    inputs: List[torch.Tensor] = []
    outputs: List[PromptPoseFeatures] = []
    hooks = [
        model.backbone.register_forward_hook(
            lambda module, args, out: inputs.append(args[0].detach())),
        neck.register_forward_hook(
            lambda module, args, out: outputs.append(out)),
    ]
    try:
        results = inference_topdown(model, img, bboxes, bbox_format)
    finally:
        for hook in hooks:
            hook.remove()
    if not outputs:
        raise RuntimeError('the prompt neck did not run during inference')
    # with flip test the network runs twice: image first, flipped second
    feats = outputs[0]
    feats = PromptPoseFeatures(
        visual=tuple(level.detach() for level in feats.visual),
        score_map=feats.score_map.detach(),
        dense=feats.dense.detach(),
        text=feats.text.detach())
    preprocessor = model.data_preprocessor
    crops = inputs[0] * preprocessor.std + preprocessor.mean
    crops = crops.clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()
    return PromptPoseInference(results, crops, feats)
