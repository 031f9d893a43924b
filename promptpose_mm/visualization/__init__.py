from .figures import (draw_pose_comparison, draw_score_map_grid,
                      draw_similarity_matrix)
from .local_visualizer import PromptPoseLocalVisualizer

__all__ = [
    'draw_pose_comparison', 'draw_score_map_grid', 'draw_similarity_matrix',
    'PromptPoseLocalVisualizer'
]
