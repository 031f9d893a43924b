"""PromptPose's pixel-level loss."""
from typing import Optional

from mmpose.models.losses import KeypointMSELoss
from mmpose.registry import MODELS
from torch import Tensor

from promptpose_mm.utils.precision import full_precision


@MODELS.register_module()
class PixelLevelLoss(KeypointMSELoss):
    """The pixel-level text-to-pixel alignment loss of PromptPose.

    In the paper, the K-channel text-to-pixel score map is upsampled by a
    small deconvolution branch of the head to the heatmap resolution and
    regressed onto the target Gaussian heatmaps, so that each keypoint's
    prompt responds where that keypoint is (``L_pixel``, weighted by ``a2``
    in the total loss). The regression itself is MMPose's
    :class:`KeypointMSELoss`; this class only sets the defaults and honours
    ``use_target_weight``.

    Args:
        use_target_weight (bool): weight each keypoint's squared error by its
            target weight (visibility). Defaults to ``True``.
        skip_empty_channel (bool): ignore heatmap channels without any
            non-zero target. Defaults to ``False``.
        loss_weight (float): ``a2`` in the paper's total loss.
            Defaults to 1.0.
    """

    def __init__(self,
                 use_target_weight: bool = True,
                 skip_empty_channel: bool = False,
                 loss_weight: float = 1.):
        super().__init__(
            use_target_weight=use_target_weight,
            skip_empty_channel=skip_empty_channel,
            loss_weight=loss_weight)

    def forward(self,
                output: Tensor,
                target: Tensor,
                target_weights: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> Tensor:
        """Weighted mean squared error of the upsampled score maps.

        Args:
            output (Tensor): upsampled score maps ``(B, K, H, W)``.
            target (Tensor): target heatmaps ``(B, K, H, W)``.
            target_weights (Tensor, optional): keypoint weights ``(B, K)``
                (or pixel weights ``(B, K, H, W)``); ignored when
                ``use_target_weight`` is ``False``.
            mask (Tensor, optional): valid-pixel mask ``(B, K | 1, H, W)``.

        Returns:
            Tensor: the scalar loss, times ``loss_weight``.
        """
        if not self.use_target_weight:
            target_weights = None
        with full_precision(output.device):  # float32 under any autocast
            return super().forward(output.float(), target.float(),
                                   target_weights, mask)
