"""Reading a feature map at keypoint locations given in input pixels."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor


def _normalised_coordinates(keypoints: Tensor,
                            input_size: Sequence[int]) -> Tensor:
    """Map input-image pixel coordinates to ``grid_sample``'s ``[-1, 1]``.

    Pixel ``x`` (its centre) maps to ``u = (2 * x + 1) / W - 1``, so the
    image's pixel area ``[-0.5, W - 0.5]`` spans ``[-1, 1]``, which is what
    ``align_corners=False`` expects whatever the feature map's stride.

    Args:
        keypoints (Tensor): ``(B, K, 2)`` coordinates ``(x, y)`` in input
            pixels.
        input_size (Sequence[int]): the input size ``(W, H)``.

    Returns:
        Tensor: ``(B, K, 2)`` normalised coordinates ``(u, v)``.
    """
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError('keypoints must have shape (B, K, 2) with (x, y) in '
                         f'input pixels; got {tuple(keypoints.shape)}')
    if len(input_size) != 2 or min(input_size) <= 0:
        raise ValueError('input_size must be the positive input size (W, H); '
                         f'got {input_size}')
    size = keypoints.new_tensor([float(s) for s in input_size])
    return (2 * keypoints + 1) / size - 1


def sample_keypoint_features(feature_map: Tensor,
                             keypoints: Tensor,
                             input_size: Sequence[int],
                             padding_mode: str = 'border') -> Tensor:
    """Bilinearly sample a feature map at keypoint locations.

    A keypoint at the centre of the input pixels covered by feature cell
    ``j`` reads exactly cell ``j``; between cell centres the features are
    interpolated (``F.grid_sample``, ``align_corners=False``).

    Args:
        feature_map (Tensor): ``(B, D, h, w)`` map covering the input.
        keypoints (Tensor): ``(B, K, 2)`` coordinates ``(x, y)`` in
            input-image pixels (MMPose's ``transformed_keypoints``).
        input_size (Sequence[int]): the input size ``(W, H)`` in pixels.
        padding_mode (str): ``grid_sample``'s padding for points beyond the
            outermost cell centres. ``'border'`` (default) repeats the edge
            cells.

    Returns:
        Tensor: ``(B, K, D)`` features at the keypoints.
    """
    if feature_map.ndim != 4:
        raise ValueError('feature_map must have shape (B, D, h, w); got '
                         f'{tuple(feature_map.shape)}')
    grid = _normalised_coordinates(keypoints, input_size)
    if grid.shape[0] != feature_map.shape[0]:
        raise ValueError(
            f'feature_map has batch size {feature_map.shape[0]} but '
            f'keypoints have batch size {grid.shape[0]}')
    grid = grid.to(feature_map.dtype).unsqueeze(2)  # (B, K, 1, 2)
    sampled = F.grid_sample(
        feature_map,
        grid,
        mode='bilinear',
        padding_mode=padding_mode,
        align_corners=False)  # (B, D, K, 1)
    return sampled.squeeze(-1).transpose(1, 2)


def keypoints_inside(keypoints: Tensor, input_size: Sequence[int]) -> Tensor:
    """Whether keypoints fall inside the input image (its pixel area).

    Args:
        keypoints (Tensor): ``(B, K, 2)`` coordinates ``(x, y)`` in input
            pixels.
        input_size (Sequence[int]): the input size ``(W, H)``.

    Returns:
        Tensor: ``(B, K)`` bool, ``True`` where ``-0.5 <= x <= W - 0.5``
        and ``-0.5 <= y <= H - 0.5`` (``False`` for NaN coordinates).
    """
    grid = _normalised_coordinates(keypoints, input_size)
    return ((grid >= -1) & (grid <= 1)).all(dim=-1)


__all__ = ['sample_keypoint_features', 'keypoints_inside']
