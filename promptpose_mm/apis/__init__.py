from .score_maps import PromptPoseInference, capture_prompt_features

__all__ = ['PromptPoseInference', 'capture_prompt_features']
