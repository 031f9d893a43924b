"""A top-down heatmap model as one module, image in, heatmaps out."""
from typing import Optional

import torch
from torch import Tensor, nn

from promptpose_mm.models.necks import PromptPoseNeck


class FoldedPoseModel(nn.Module):
    """An eval-mode MMPose top-down heatmap model as ``image -> heatmaps``,
    the PromptPose prompts folded in.

    The keypoint prompts before the context decoder (text encoder, then
    prompt encoder) do not depend on the image: they are computed once here
    and stored as the buffer ``prompts`` ``(K, D)``, so a traced or exported
    graph holds them as a constant and has no text-encoder or
    prompt-encoder node. The context decoder, the score map and the head
    run as in the model. Any other top-down heatmap model (SimpleBaseline)
    is its backbone, neck and head.

    Args:
        model (nn.Module): a ``TopdownPoseEstimator``; put in eval mode.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        model.eval()
        self.backbone = model.backbone
        self.neck = model.neck if model.with_neck else None
        self.head = model.head
        prompts: Optional[Tensor] = None
        if isinstance(self.neck, PromptPoseNeck):
            # the text and prompt encoders stay in the neck but out of the
            # graph: only what forward uses is traced
            with torch.no_grad():
                prompts = self.neck.prompts().clone()
        self.register_buffer('prompts', prompts)
        self.eval()

    def forward(self, inputs: Tensor) -> Tensor:
        """Heatmaps of normalised crops.

        Args:
            inputs (Tensor): ``(B, 3, H, W)``, as the data preprocessor
                gives them.

        Returns:
            Tensor: heatmaps ``(B, K, H_out, W_out)``.
        """
        feats = self.backbone(inputs)
        if self.prompts is not None:
            feats = self.neck(feats, prompts=self.prompts)
        elif self.neck is not None:
            feats = self.neck(feats)
        return self.head.forward(feats)
