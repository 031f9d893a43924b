"""Resizing CLIP's learned positional embeddings to another token grid.

CLIP's visual towers carry one positional embedding per grid cell plus a
leading one for the class token (ViT) or the mean token (the ResNet's
attention pool), stored as ``(1 + h * w, C)`` in row-major grid order. A
checkpoint trained at 224 pixels has a 7x7 (RN50) or 14x14 (ViT-B/16) grid;
a 256x256 crop needs 8x8 / 16x16 and a 256x192 crop a non-square grid.

The resize is bilinear with ``align_corners=False`` by default, as the
published CLAMP code resizes (``F.interpolate(..., mode='bilinear')``, both
when it loads CLIP weights and in every forward pass).
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

Grid = Tuple[int, int]


def infer_square_grid(num_positions: int) -> Grid:
    """The square grid ``(s, s)`` with ``s * s == num_positions``.

    Args:
        num_positions (int): the number of spatial positions, i.e. the
            embedding's length without its leading class/mean token.

    Returns:
        tuple[int, int]: ``(s, s)``.

    Raises:
        ValueError: ``num_positions`` is not a perfect square.
    """
    side = math.isqrt(num_positions)
    if side * side != num_positions or side == 0:
        raise ValueError(
            f'cannot infer the grid of a positional embedding with '
            f'{num_positions} spatial positions: it is not a square number. '
            'Pass the source grid (h, w) explicitly (src_grid=...)')
    return side, side


def _check_grid(grid: Sequence[int], name: str) -> Grid:
    if len(grid) != 2 or any(int(size) < 1 for size in grid):
        raise ValueError(f'{name} must be (h, w) with positive sizes, got '
                         f'{tuple(grid)}')
    return int(grid[0]), int(grid[1])


#: How :func:`resize_pos_embed` may interpolate.
RESIZE_MODES = ('bilinear', 'bicubic')


def resize_pos_embed(pos_embed: Tensor,
                     src_grid: Optional[Sequence[int]],
                     dst_grid: Sequence[int],
                     mode: str = 'bilinear') -> Tensor:
    """Resize a positional embedding from one token grid to another.

    The spatial part is interpolated (``mode``, ``align_corners=False``, in
    float32) as an image of ``C`` channels; the leading class/mean token is
    kept as it is.

    Args:
        pos_embed (Tensor): ``(1 + h * w, C)``, class/mean token first, then
            the grid cells in row-major order.
        src_grid (tuple[int, int], optional): ``(h, w)`` of ``pos_embed``;
            inferred as a square grid when None.
        dst_grid (tuple[int, int]): ``(h', w')`` wanted.
        mode (str): ``'bilinear'`` (CLAMP's choice) or ``'bicubic'``.
            Defaults to ``'bilinear'``.

    Returns:
        Tensor: ``(1 + h' * w', C)``, same dtype and device; ``pos_embed``
        itself when the grids are equal.

    Raises:
        ValueError: ``pos_embed`` is not 2-D, or its length does not match
            ``src_grid``, or no square grid fits it, or ``mode`` is unknown.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f'mode must be one of {RESIZE_MODES}, got {mode!r}')
    if pos_embed.dim() != 2:
        raise ValueError('pos_embed must be (1 + h * w, C), got shape '
                         f'{tuple(pos_embed.shape)}')
    num_positions = pos_embed.shape[0] - 1
    if src_grid is None:
        src_grid = infer_square_grid(num_positions)
    src_h, src_w = _check_grid(src_grid, 'src_grid')
    dst_h, dst_w = _check_grid(dst_grid, 'dst_grid')
    if src_h * src_w != num_positions:
        raise ValueError(
            f'pos_embed has {num_positions} spatial positions but src_grid '
            f'{(src_h, src_w)} has {src_h * src_w}')
    if (src_h, src_w) == (dst_h, dst_w):
        return pos_embed
    channels = pos_embed.shape[1]
    spatial = pos_embed[1:].float().reshape(1, src_h, src_w, channels)
    spatial = F.interpolate(
        spatial.permute(0, 3, 1, 2),
        size=(dst_h, dst_w),
        mode=mode,
        align_corners=False)
    spatial = spatial.permute(0, 2, 3, 1).reshape(dst_h * dst_w, channels)
    return torch.cat([pos_embed[:1], spatial.to(pos_embed.dtype)], dim=0)
