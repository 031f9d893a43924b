"""The visualizer the configs name (``PromptPoseLocalVisualizer``). The
analysis figures are in :mod:`promptpose_mm.analysis.figures`."""
from .local_visualizer import PromptPoseLocalVisualizer

__all__ = ['PromptPoseLocalVisualizer']
