"""The feature bundle handed from the prompt neck to the PromptPose head."""
from typing import NamedTuple, Tuple

from torch import Tensor


class PromptPoseFeatures(NamedTuple):
    """What :class:`PromptPoseNeck` returns and :class:`PromptPoseHead` reads.

    It is a tuple, so MMPose's flip test (``[feats, feats_flip]``) and
    ``TopdownPoseEstimator`` pass it through unchanged.

    Attributes:
        visual (tuple[Tensor]): the backbone's feature maps, the last one
            ``(B, C, H, W)`` feeding the keypoint branch.
        score_map (Tensor): text-to-pixel cosine similarities
            ``(B, K, H, W)``.
        dense (Tensor): the dense CLIP-space map ``(B, D, H, W)`` (not
            normalised), sampled by the semantic-level loss.
        text (Tensor): the final keypoint prompt embeddings ``(B, K, D)``
            (not normalised).
    """
    visual: Tuple[Tensor, ...]
    score_map: Tensor
    dense: Tensor
    text: Tensor
