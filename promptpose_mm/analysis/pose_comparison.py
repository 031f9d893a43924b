"""Ground truth and several models' predictions on the same instances.

:func:`compare_poses` runs MMPose's top-down inference of each model on
the annotated boxes of each image and returns the poses column by column,
ready for :func:`promptpose_mm.visualization.draw_pose_comparison` (the
paper's Figure 4).
"""
from typing import Dict, List, NamedTuple, Sequence

import numpy as np
from mmpose.apis import inference_topdown
from torch import nn

from promptpose_mm.io.coco import AnnotatedImage


class PoseComparison(NamedTuple):
    """Poses per column (ground truth first) and per image.

    Attributes:
        titles (list[str]): ``'ground truth'`` then the model names.
        poses (list[list[np.ndarray]]): ``poses[c][r]`` is ``(N, K, 3)``
            ``(x, y, score)`` in image pixels for image ``r``: visibility
            0/1 for the ground truth, keypoint scores for the models.
    """
    titles: List[str]
    poses: List[List[np.ndarray]]


def ground_truth_poses(image: AnnotatedImage) -> np.ndarray:
    """An image's labelled keypoints as ``(N, K, 3)`` ``(x, y, 0/1)``."""
    return np.concatenate(
        [image.keypoints, image.visible[..., None].astype(np.float32)],
        axis=-1).astype(np.float32)


def predict_poses(model: nn.Module, image: AnnotatedImage) -> np.ndarray:
    """A model's poses for an image's boxes: ``(N, K, 3)`` (x, y, score)."""
    results = inference_topdown(model, image.path, image.bboxes)
    poses = [
        np.concatenate([
            result.pred_instances.keypoints[0],
            result.pred_instances.keypoint_scores[0][:, None]
        ],
                       axis=-1) for result in results
    ]
    return np.stack(poses).astype(np.float32)


def compare_poses(models: Dict[str, nn.Module],
                  images: Sequence[AnnotatedImage]) -> PoseComparison:
    """Ground truth and every model's predictions on the images.

    Args:
        models (dict[str, nn.Module]): named MMPose top-down models (from
            ``mmpose.apis.init_model``), in column order.
        images (Sequence[AnnotatedImage]): annotated images (their boxes
            are the models' boxes).

    Returns:
        PoseComparison: titles and poses, ground truth first.
    """
    num_keypoints = {
        name: model.dataset_meta['num_keypoints']
        for name, model in models.items()
    }
    for image in images:
        for name, count in num_keypoints.items():
            if count != image.keypoints.shape[1]:
                raise ValueError(
                    f'{image.path}: {image.keypoints.shape[1]} annotated '
                    f'keypoints but model {name!r} predicts {count}')
    poses = [[ground_truth_poses(image) for image in images]]
    for model in models.values():
        poses.append([predict_poses(model, image) for image in images])
    return PoseComparison(['ground truth'] + list(models), poses)
