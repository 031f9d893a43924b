"""Figures of what the keypoint prompts attend to (matplotlib, no display).

* :func:`draw_score_map_grid`: the pixel-level score map of every keypoint
  over the crop, one labelled panel per keypoint (the paper's Figure 3).
* :func:`draw_similarity_matrix`: the semantic-level K x K similarity
  between keypoint features and prompts, labelled (the paper's Figure 2).
* :func:`draw_pose_comparison`: ground truth and the predictions of several
  models side by side, one row per image (the paper's Figure 4).
"""
import math
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out_file: str, tight: bool = True) -> str:
    """Write a PNG at 100 dpi, cropped to its content when ``tight``."""
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=100, bbox_inches='tight' if tight else None)
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


def _rgb(colors: Optional[np.ndarray], count: int,
         default: Tuple[float, float, float]) -> np.ndarray:
    """MMPose's 0-255 RGB colours as matplotlib's 0-1, one per item."""
    if colors is None or len(colors) == 0:
        return np.tile(np.asarray(default, dtype=np.float32), (count, 1))
    colors = np.asarray(colors, dtype=np.float32).reshape(-1, 3) / 255
    if len(colors) == 1:
        return np.tile(colors, (count, 1))
    if len(colors) != count:
        raise ValueError(f'{len(colors)} colours for {count} items')
    return colors


def _view_region(boxes: Optional[np.ndarray], height: int, width: int,
                 margin: float) -> Tuple[float, float, float, float]:
    """The union of the boxes grown by ``margin``, clipped to the image."""
    if boxes is None or len(boxes) == 0:
        return 0.0, 0.0, float(width), float(height)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    x1, y1 = boxes[:, :2].min(axis=0)
    x2, y2 = boxes[:, 2:].max(axis=0)
    pad_x, pad_y = margin * (x2 - x1), margin * (y2 - y1)
    return (max(0.0, x1 - pad_x), max(0.0, y1 - pad_y),
            min(float(width), x2 + pad_x), min(float(height), y2 + pad_y))


def draw_pose_comparison(images: Sequence[np.ndarray],
                         poses: Sequence[Sequence[np.ndarray]],
                         titles: Sequence[str],
                         skeleton: Sequence[Tuple[int, int]],
                         out_file: str,
                         keypoint_colors: Optional[np.ndarray] = None,
                         link_colors: Optional[np.ndarray] = None,
                         boxes: Optional[Sequence[np.ndarray]] = None,
                         row_labels: Optional[Sequence[str]] = None,
                         score_thr: float = 0.3,
                         panel_size: float = 3.0,
                         margin: float = 0.1) -> str:
    """Draw poses in a grid: one row per image, one column per source.

    Each panel is ``panel_size`` inches wide and shows its image, zoomed on
    the row's boxes when given, with the keypoints scoring at least
    ``score_thr`` (and above 0: unlabelled ground truth is never drawn) and
    the skeleton links between two such keypoints. A row
    is as high as its region's aspect ratio asks (clipped to 0.4 to 2.5
    panel widths), so the figure is exactly ``len(titles) * panel_size``
    inches wide and the sum of the rows plus a 0.4-inch title strip high,
    at 100 dpi.

    Args:
        images (Sequence[np.ndarray]): R images, RGB ``(H, W, 3)``.
        poses (Sequence[Sequence[np.ndarray]]): ``poses[c][r]`` is
            ``(N, K, 3)``: ``(x, y, score)`` in image pixels for the N
            instances of image ``r`` in column ``c`` (ground-truth
            visibility as 0/1 scores).
        titles (Sequence[str]): the C column titles (``'ground truth'``,
            the model names).
        skeleton (Sequence[tuple[int, int]]): links as keypoint index pairs
            (the dataset metainfo's ``skeleton_links``).
        out_file (str): PNG path to write.
        keypoint_colors (np.ndarray, optional): ``(K, 3)`` RGB 0-255
            (metainfo ``keypoint_colors``); white when None.
        link_colors (np.ndarray, optional): ``(L, 3)`` RGB 0-255
            (metainfo ``skeleton_link_colors``); white when None.
        boxes (Sequence[np.ndarray], optional): per image ``(N, 4)`` boxes
            ``(x1, y1, x2, y2)``: the panel shows their union plus
            ``margin``; the whole image when None.
        row_labels (Sequence[str], optional): a label per image, written in
            the first panel of its row.
        score_thr (float): the lowest score drawn.
        panel_size (float): panel side in inches.
        margin (float): margin around the boxes, as a fraction of their
            union's size.

    Returns:
        str: ``out_file``.
    """
    num_rows, num_cols = len(images), len(titles)
    if num_rows == 0 or num_cols == 0:
        raise ValueError('draw_pose_comparison needs at least one image and '
                         'one column')
    if len(poses) != num_cols or any(len(col) != num_rows for col in poses):
        raise ValueError(f'poses must be {num_cols} columns of {num_rows} '
                         'arrays (one per image), matching titles and images')
    for name, per_row in (('boxes', boxes), ('row_labels', row_labels)):
        if per_row is not None and len(per_row) != num_rows:
            raise ValueError(f'{name} has {len(per_row)} entries for '
                             f'{num_rows} images')
    regions = [
        _view_region(None if boxes is None else boxes[row], *image.shape[:2],
                     margin) for row, image in enumerate(images)
    ]
    row_heights = [
        panel_size * float(np.clip((y2 - y1) / max(x2 - x1, 1e-6), 0.4, 2.5))
        for x1, y1, x2, y2 in regions
    ]
    plt = _pyplot()
    title_strip = 0.4
    height = sum(row_heights) + title_strip
    fig, axes = plt.subplots(
        num_rows,
        num_cols,
        figsize=(num_cols * panel_size, height),
        squeeze=False,
        gridspec_kw=dict(
            height_ratios=row_heights,
            left=0.005,
            right=0.995,
            bottom=0.005,
            top=1 - title_strip / height,
            wspace=0.02,
            hspace=0.02))
    for row, (image, region) in enumerate(zip(images, regions)):
        x1, y1, x2, y2 = region
        for col in range(num_cols):
            ax = axes[row, col]
            ax.imshow(image)
            ax.set_xlim(x1, x2)
            ax.set_ylim(y2, y1)
            ax.axis('off')
            if row == 0:
                ax.set_title(titles[col], fontsize=10)
            if col == 0 and row_labels is not None:
                ax.text(
                    0.02,
                    0.98,
                    row_labels[row],
                    transform=ax.transAxes,
                    va='top',
                    fontsize=7,
                    color='white',
                    bbox=dict(facecolor='black', alpha=0.5, lw=0))
            _draw_instances(ax, np.asarray(poses[col][row], np.float32),
                            skeleton, keypoint_colors, link_colors, score_thr)
    return _save(fig, out_file, tight=False)


def _draw_instances(ax, instances: np.ndarray, skeleton: Sequence[Tuple[int,
                                                                        int]],
                    keypoint_colors: Optional[np.ndarray],
                    link_colors: Optional[np.ndarray],
                    score_thr: float) -> None:
    """Draw ``(N, K, 3)`` keypoints and their links on one panel."""
    if instances.size == 0:
        return
    if instances.ndim != 3 or instances.shape[-1] != 3:
        raise ValueError('each pose array must be (N, K, 3) with (x, y, '
                         f'score); got {instances.shape}')
    num_keypoints = instances.shape[1]
    point_rgb = _rgb(keypoint_colors, num_keypoints, (1.0, 1.0, 1.0))
    link_rgb = _rgb(link_colors, len(skeleton), (1.0, 1.0, 1.0))
    for instance in instances:
        shown = (instance[:, 2] >= score_thr) & (instance[:, 2] > 0)
        for (i, j), color in zip(skeleton, link_rgb):
            if shown[i] and shown[j]:
                ax.plot(
                    instance[[i, j], 0],
                    instance[[i, j], 1],
                    color=color,
                    linewidth=1.5)
        ax.scatter(
            instance[shown, 0],
            instance[shown, 1],
            s=12,
            c=point_rgb[shown],
            edgecolors='black',
            linewidths=0.5,
            zorder=3)
