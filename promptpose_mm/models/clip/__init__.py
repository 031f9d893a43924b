from .init_cfg import (CLIP_INIT_TYPE, CLIPInitMixin, looks_like_clip_weights,
                       split_clip_init_cfg)
from .loading import (CLIPWeightsError, load_clip_state_dict,
                      missing_clip_keys, resolve_clip_source, sub_state_dict)
from .pos_embed import infer_square_grid, resize_pos_embed

__all__ = [
    'CLIP_INIT_TYPE', 'CLIPInitMixin', 'looks_like_clip_weights',
    'split_clip_init_cfg', 'CLIPWeightsError', 'load_clip_state_dict',
    'missing_clip_keys', 'resolve_clip_source', 'sub_state_dict',
    'infer_square_grid', 'resize_pos_embed'
]
