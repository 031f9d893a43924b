from .loading import (CLIPWeightsError, load_clip_state_dict,
                      resolve_clip_source, sub_state_dict)
from .pos_embed import infer_square_grid, resize_pos_embed

__all__ = [
    'CLIPWeightsError', 'load_clip_state_dict', 'resolve_clip_source',
    'sub_state_dict', 'infer_square_grid', 'resize_pos_embed'
]
