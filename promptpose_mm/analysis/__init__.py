"""Analysis tooling behind ``tools/analysis/``: what the prompts see (score
maps, semantic similarity), pose comparisons, the real-label comparison,
video poses against labels (``video_accuracy``), and the figures they draw.
Speed and memory measurements live in ``benchmarks/``, outside the package.

Nothing in the model (``models``, ``engine``, ``apis``, ``utils``,
``converters``, ``visualization``) imports this subpackage; it imports them.
"""
from .pose_comparison import (PoseComparison, compare_poses,
                              ground_truth_poses, predict_poses)
from .score_maps import PromptPoseInference, capture_prompt_features
from .semantic_similarity import (SemanticSimilarity,
                                  keypoint_prompt_similarity,
                                  keypoints_to_input, semantic_similarity)

__all__ = [
    'PoseComparison', 'compare_poses', 'ground_truth_poses', 'predict_poses',
    'PromptPoseInference', 'capture_prompt_features', 'SemanticSimilarity',
    'keypoint_prompt_similarity', 'keypoints_to_input', 'semantic_similarity'
]
