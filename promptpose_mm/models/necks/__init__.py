from .context_decoder import (ContextDecoder, ContextDecoderLayer,
                              DecoderAttention)
from .prompt_encoder import PromptEncoder
from .prompt_neck import PromptPoseNeck
from .text_encoder import PromptTextEncoder

__all__ = [
    'ContextDecoder', 'ContextDecoderLayer', 'DecoderAttention',
    'PromptEncoder', 'PromptPoseNeck', 'PromptTextEncoder'
]
