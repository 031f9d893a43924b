from .base import CLIPVisualBackbone
from .clip_resnet import CLIPResNet, attention_pool_tokens
from .clip_vit import CLIPVisionTransformer, DropPathBlock, TokenDropPath

__all__ = [
    'CLIPVisualBackbone', 'CLIPResNet', 'CLIPVisionTransformer',
    'DropPathBlock', 'TokenDropPath', 'attention_pool_tokens'
]
