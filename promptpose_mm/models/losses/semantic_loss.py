"""PromptPose's semantic-level (keypoint-to-prompt contrastive) loss."""
import math

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn

from promptpose_mm.utils.precision import full_precision


def _diagonal_cross_entropy(logits: Tensor, valid: Tensor) -> Tensor:
    """Row-wise cross entropy with the diagonal as target, over valid entries.

    Row ``i`` of sample ``b`` is a softmax over the valid columns only; rows
    of invalid keypoints give 0 and no NaN (neither value nor gradient).

    Args:
        logits (Tensor): ``(B, K, K)`` similarity logits.
        valid (Tensor): ``(B, K)`` bool, which keypoints take part.

    Returns:
        Tensor: ``(B, K)`` per-row losses, 0 where ``valid`` is ``False``.
    """
    pair_valid = valid[:, :, None] & valid[:, None, :]
    # Invalid columns of a valid row leave the softmax (-inf); an invalid row
    # becomes a constant 0 row so that its log-sum-exp stays finite.
    fill = torch.zeros_like(logits).masked_fill(valid[:, :, None], -math.inf)
    masked = torch.where(pair_valid, logits, fill)
    per_row = masked.logsumexp(dim=-1) - masked.diagonal(dim1=-2, dim2=-1)
    return per_row * valid.to(per_row.dtype)


@MODELS.register_module()
class SemanticLevelLoss(nn.Module):
    """The semantic-level keypoint-to-prompt contrastive loss of PromptPose.

    The dense CLIP-space feature sampled at each ground-truth keypoint must
    match its own keypoint prompt and no other prompt of the same sample: a
    K x K contrastive cross entropy over cosine similarities in both
    directions (feature -> prompt over the rows, prompt -> feature over the
    columns, diagonal targets), as in CLIP. The temperature is CLIP's
    learnable logit scale, clamped at ``max_logit_scale``. Invisible or
    out-of-crop keypoints leave both softmaxes.

    The loss is ``loss_weight * (sum of row CE + sum of column CE) /
    (2 * B * K)``: the sums run over the valid keypoints only, but they are
    divided by the number of all entries, as the published CLAMP code's
    mean over its ``(B, K)`` losses (zero-weighted where invalid) is; so
    ``loss_weight`` (``a1`` = 5e-4) keeps its published meaning. Without
    any valid keypoint it is exactly 0 and still depends on the inputs and
    the logit scale (zero gradients, so distributed training sees them
    used).

    Args:
        loss_weight (float): ``a1`` in the paper's total loss.
            Defaults to 1.0.
        temperature_init (float): initial temperature; the parameter
            ``logit_scale`` starts at ``log(1 / temperature_init)``.
            Defaults to 0.07.
        max_logit_scale (float): clamp of ``exp(logit_scale)``.
            Defaults to 100.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 temperature_init: float = 0.07,
                 max_logit_scale: float = 100.0):
        super().__init__()
        if temperature_init <= 0:
            raise ValueError('SemanticLevelLoss: temperature_init must be '
                             f'positive; got {temperature_init}')
        self.loss_weight = loss_weight
        self.max_logit_scale = max_logit_scale
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(1.0 / temperature_init)))

    @property
    def scale(self) -> Tensor:
        """Tensor: the effective scale ``exp(logit_scale)``, clamped."""
        return self.logit_scale.exp().clamp(max=self.max_logit_scale)

    def forward(self, point_feats: Tensor, text: Tensor,
                valid: Tensor) -> Tensor:
        """Contrast keypoint features with keypoint prompts.

        Args:
            point_feats (Tensor): ``(B, K, D)`` features at the keypoints.
            text (Tensor): ``(B, K, D)`` keypoint prompt embeddings.
            valid (Tensor): ``(B, K)`` bool, the keypoints that take part.

        Returns:
            Tensor: the scalar loss.
        """
        if point_feats.ndim != 3 or point_feats.shape != text.shape:
            raise ValueError(
                'SemanticLevelLoss: point_feats and text must both have '
                f'shape (B, K, D); got {tuple(point_feats.shape)} and '
                f'{tuple(text.shape)}')
        if tuple(valid.shape) != tuple(point_feats.shape[:2]):
            raise ValueError(
                f'SemanticLevelLoss: valid must have shape (B, K) = '
                f'{tuple(point_feats.shape[:2])}; got {tuple(valid.shape)}')
        valid = valid.bool()
        with full_precision(point_feats.device):
            return self._loss(point_feats.float(), text.float(), valid)

    def _loss(self, point_feats: Tensor, text: Tensor,
              valid: Tensor) -> Tensor:
        """The loss in float32 (any autocast is off)."""
        # Invalid entries become 0 so that NaN/inf there cannot leak into
        # the gradients of the valid ones.
        keep = valid[..., None]
        point_feats = point_feats.masked_fill(~keep, 0)
        text = text.masked_fill(~keep, 0)
        feats = F.normalize(point_feats, dim=-1)
        text = F.normalize(text, dim=-1).to(feats.dtype)
        logits = self.scale.to(feats.dtype) * feats @ text.transpose(1, 2)
        row = _diagonal_cross_entropy(logits, valid)  # feature -> prompt
        col = _diagonal_cross_entropy(logits.transpose(1, 2), valid)
        # Divided by all B * K entries, valid or not (CLAMP's mean).
        loss = (row.sum() + col.sum()) / (2 * max(valid.numel(), 1))
        return loss * self.loss_weight
