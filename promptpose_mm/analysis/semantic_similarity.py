"""The semantic-level similarity between keypoint features and prompts.

For every annotated instance, the dense CLIP-space map is read at the
ground-truth keypoints (mapped into the network's input crop) with
:func:`sample_keypoint_features`, exactly as the semantic-level loss does,
and compared by cosine similarity with every keypoint prompt. Averaged over
the instances this gives the K x K matrix of the paper's Figure 2: a
trained model has its largest values on the diagonal.
"""
from typing import List, NamedTuple, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix
from torch import nn

from promptpose_mm.io.coco import AnnotatedImage
from ..models.structures import PromptPoseFeatures
from ..models.utils import keypoints_inside, sample_keypoint_features
from .score_maps import capture_prompt_features


class SemanticSimilarity(NamedTuple):
    """What :func:`semantic_similarity` returns.

    Attributes:
        similarity (np.ndarray): ``(K, K)`` mean cosine similarity, row
            ``i`` the feature at keypoint ``i``, column ``j`` prompt ``j``;
            NaN rows for keypoints never labelled inside a crop.
        counts (np.ndarray): ``(K,)`` instances averaged in each row.
        names (list[str]): the K keypoint names (the prompts' text).
    """
    similarity: np.ndarray
    counts: np.ndarray
    names: List[str]


def keypoints_to_input(keypoints: np.ndarray,
                       center: Sequence[float],
                       scale: Sequence[float],
                       input_size: Sequence[int],
                       use_udp: bool = False) -> np.ndarray:
    """Map image keypoints into the input crop, as ``TopdownAffine`` does.

    Args:
        keypoints (np.ndarray): ``(K, 2)`` image pixels ``(x, y)``.
        center (Sequence[float]): the crop's ``input_center`` ``(x, y)``.
        scale (Sequence[float]): its ``input_scale`` ``(w, h)``.
        input_size (Sequence[int]): the input size ``(W, H)``.
        use_udp (bool): the pipeline's ``TopdownAffine(use_udp=...)``.

    Returns:
        np.ndarray: ``(K, 2)`` float32 coordinates in input pixels.
    """
    center = np.asarray(center, dtype=np.float32).reshape(2)
    scale = np.asarray(scale, dtype=np.float32).reshape(2)
    size = tuple(int(s) for s in input_size)
    if use_udp:
        warp = get_udp_warp_matrix(center, scale, 0, output_size=size)
    else:
        warp = get_warp_matrix(center, scale, 0, output_size=size)
    points = np.asarray(keypoints, dtype=np.float32).reshape(-1, 2)
    return (points @ warp[:, :2].T + warp[:, 2]).astype(np.float32)


def keypoint_prompt_similarity(features: PromptPoseFeatures,
                               keypoints: torch.Tensor,
                               input_size: Sequence[int]) -> torch.Tensor:
    """Cosine similarity of each keypoint's feature with each prompt.

    Args:
        features (PromptPoseFeatures): ``dense`` ``(N, D, h, w)`` and
            ``text`` ``(N, K, D)``.
        keypoints (Tensor): ``(N, K, 2)`` keypoints in input pixels.
        input_size (Sequence[int]): the input size ``(W, H)``.

    Returns:
        Tensor: ``(N, K, K)``; ``[n, i, j]`` compares the feature at
        keypoint ``i`` of instance ``n`` with prompt ``j``.
    """
    points = sample_keypoint_features(features.dense, keypoints, input_size)
    points = F.normalize(points.float(), dim=-1)
    text = F.normalize(features.text.float(), dim=-1)
    return points @ text.transpose(1, 2)


def _uses_udp(model: nn.Module) -> bool:
    """Whether the model's test pipeline crops with UDP."""
    pipeline = model.cfg.test_dataloader.dataset.pipeline
    return any(
        step.get('type') == 'TopdownAffine' and step.get('use_udp')
        for step in pipeline)


def semantic_similarity(model: nn.Module, images: Sequence[AnnotatedImage]
                        ) -> SemanticSimilarity:
    """Average keypoint-prompt similarity over annotated instances.

    Each image runs through :func:`capture_prompt_features` with its
    ground-truth boxes; a keypoint counts for an instance when it is
    labelled and falls inside that instance's crop.

    Args:
        model (nn.Module): a PromptPose ``TopdownPoseEstimator``.
        images (Sequence[AnnotatedImage]): images with boxes and keypoints
            (see :func:`load_coco_images`).

    Returns:
        SemanticSimilarity: the mean matrix, counts and keypoint names.
    """
    names = list(model.neck.keypoint_names)
    num_keypoints = len(names)
    total = np.zeros((num_keypoints, num_keypoints), dtype=np.float64)
    counts = np.zeros(num_keypoints, dtype=np.int64)
    use_udp = _uses_udp(model)
    for image in images:
        if image.keypoints.shape[1] != num_keypoints:
            raise ValueError(
                f'{image.path}: {image.keypoints.shape[1]} annotated '
                f'keypoints but the model has {num_keypoints} prompts')
        out = capture_prompt_features(model, image.path, image.bboxes)
        input_size: Tuple[int, int] = tuple(
            int(s) for s in out.results[0].metainfo['input_size'])
        crops = np.stack([
            keypoints_to_input(points, result.metainfo['input_center'],
                               result.metainfo['input_scale'], input_size,
                               use_udp)
            for points, result in zip(image.keypoints, out.results)
        ])
        crops = torch.from_numpy(crops)
        similarity = keypoint_prompt_similarity(out.features, crops,
                                                input_size).numpy()
        valid = keypoints_inside(crops, input_size).numpy() & image.visible
        total += (similarity * valid[..., None]).sum(axis=0)
        counts += valid.sum(axis=0)
    with np.errstate(invalid='ignore', divide='ignore'):
        mean = total / counts[:, None]
    mean[counts == 0] = np.nan
    return SemanticSimilarity(mean.astype(np.float32), counts, names)
