"""Figures of what the keypoint prompts attend to (matplotlib, no display).

* :func:`draw_score_map_grid`: the pixel-level score map of every keypoint
  over the crop, one labelled panel per keypoint (the paper's Figure 3).
* :func:`draw_similarity_matrix`: the semantic-level K x K similarity
  between keypoint features and prompts, labelled (the paper's Figure 2).
"""
import math
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out_file: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=100, bbox_inches='tight')
    _pyplot().close(fig)
    return out_file


def draw_score_map_grid(crop: np.ndarray,
                        score_maps: np.ndarray,
                        names: Sequence[str],
                        out_file: str,
                        ncols: int = 6,
                        title: Optional[str] = None) -> str:
    """Draw each keypoint's score map over the crop, in a labelled grid.

    Args:
        crop (np.ndarray): the network's input crop, RGB uint8 ``(H, W, 3)``.
        score_maps (np.ndarray): cosine scores ``(K, h, w)``, upsampled to
            the crop here.
        names (Sequence[str]): the K keypoint names, panel titles.
        out_file (str): PNG path to write.
        ncols (int): panels per row.
        title (str, optional): figure title.

    Returns:
        str: ``out_file``.
    """
    import torch
    import torch.nn.functional as F
    num_keypoints = len(score_maps)
    if len(names) != num_keypoints:
        raise ValueError(f'{num_keypoints} score maps but {len(names)} names')
    height, width = crop.shape[:2]
    maps = F.interpolate(
        torch.as_tensor(np.asarray(score_maps, dtype=np.float32))[None],
        size=(height, width),
        mode='bilinear',
        align_corners=False)[0].numpy()
    low, high = float(maps.min()), float(maps.max())
    plt = _pyplot()
    ncols = min(ncols, num_keypoints)
    nrows = math.ceil(num_keypoints / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.2 * ncols, 2.4 * nrows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis('off')
        if index >= num_keypoints:
            continue
        ax.imshow(crop)
        ax.imshow(maps[index], cmap='jet', alpha=0.5, vmin=low, vmax=high)
        ax.set_title(names[index], fontsize=8)
    fig.suptitle(title or f'score maps (cosine, {low:.2f} to {high:.2f})')
    return _save(fig, out_file)


def draw_similarity_matrix(similarity: np.ndarray,
                           names: Sequence[str],
                           out_file: str,
                           title: Optional[str] = None) -> str:
    """Draw a labelled K x K matrix: rows keypoint features, columns prompts.

    Args:
        similarity (np.ndarray): ``(K, K)`` cosine similarities (NaN rows
            for keypoints without ground truth are drawn blank).
        names (Sequence[str]): the K keypoint names.
        out_file (str): PNG path to write.
        title (str, optional): figure title.

    Returns:
        str: ``out_file``.
    """
    similarity = np.asarray(similarity, dtype=np.float32)
    num_keypoints = len(names)
    if similarity.shape != (num_keypoints, num_keypoints):
        raise ValueError(f'similarity of shape {similarity.shape} for '
                         f'{num_keypoints} names')
    plt = _pyplot()
    size = 3 + 0.35 * num_keypoints
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(similarity, cmap='viridis')
    ax.set_xticks(range(num_keypoints))
    ax.set_yticks(range(num_keypoints))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_yticklabels(names, fontsize=7)
    ax.set_xlabel('keypoint prompt')
    ax.set_ylabel('image feature at the ground-truth keypoint')
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title or 'semantic-level similarity')
    return _save(fig, out_file)
