"""Analysis tooling behind ``tools/analysis/``: what the prompts see (score
maps, semantic similarity), pose comparisons, the speed/memory benchmark and
its cost breakdown, arithmetic counts (PyTorch and ONNX), the real-label
comparison, video poses against labels (``video_accuracy``), and the
figures they draw.

Nothing in the model (``models``, ``engine``, ``apis``, ``utils``,
``converters``, ``visualization``) imports this subpackage; it imports them.
Its submodules are imported where they are used (``from
promptpose_mm.analysis.benchmark import run_benchmark``), so that importing
one does not pull in matplotlib or the training runner for the others.
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
