from .base import CLIPVisualBackbone
from .clip_resnet import CLIPResNet, attention_pool_tokens
from .clip_vit import CLIPVisionTransformer, DropPathBlock

__all__ = [
    'CLIPVisualBackbone', 'CLIPResNet', 'CLIPVisionTransformer',
    'DropPathBlock', 'attention_pool_tokens'
]
