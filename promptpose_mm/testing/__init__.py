from .tiny_clip import (TINY_CLIP_SPECS, build_tiny_clip, save_clip_archive,
                        save_clip_state_dict)

__all__ = [
    'TINY_CLIP_SPECS', 'build_tiny_clip', 'save_clip_archive',
    'save_clip_state_dict'
]
