"""Tiny CLIP models with random weights, saved in the real file formats.

Weights cannot be downloaded in tests, so the loading code is exercised on
small models built here with open_clip and written exactly as the released
files are: a TorchScript archive (OpenAI's ``RN50.pt`` / ``ViT-B-16.pt``
format) or a plain ``torch.save``-d state dict with OpenAI's key names.
"""
from typing import Dict

import torch
from torch import nn

from promptpose_mm.models.clip.open_clip_api import (build_clip_model,
                                                     clip_model_context_length,
                                                     clip_model_image_size)

# Architectures in the spirit of CLIP RN50 / ViT-B-16, small enough for a CPU
# test. ``image_size`` is the resolution the checkpoint was "trained" at, so
# its positional embeddings need resizing for other inputs, as the real
# 224-pixel checkpoints do.
TINY_CLIP_SPECS: Dict[str, dict] = {
    'resnet':
    dict(
        embed_dim=32,
        vision=dict(
            layers=(1, 1, 1, 1), width=8, head_width=16, image_size=64),
        text=dict(
            context_length=77, vocab_size=49408, width=32, heads=2, layers=2)),
    'vit':
    dict(
        embed_dim=32,
        vision=dict(
            layers=2, width=32, head_width=16, patch_size=16, image_size=64),
        text=dict(
            context_length=77, vocab_size=49408, width=32, heads=2, layers=2)),
}


def build_tiny_clip(kind: str = 'resnet', seed: int = 0) -> nn.Module:
    """Build an open_clip ``CLIP`` with random weights and QuickGELU.

    Args:
        kind (str): ``'resnet'`` (CLIP's modified ResNet with attention
            pool) or ``'vit'``.
        seed (int): seed of the random weights.

    Returns:
        open_clip.model.CLIP: in eval mode, float32.
    """
    spec = TINY_CLIP_SPECS[kind]
    torch.manual_seed(seed)
    model = build_clip_model(
        spec['embed_dim'], spec['vision'], spec['text'], quick_gelu=True)
    # open_clip leaves some biases and norms at their trivial initial value;
    # perturb every parameter so that a mis-mapped key changes the output.
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def save_clip_archive(model: nn.Module, path: str) -> str:
    """Save ``model`` as a TorchScript archive, as OpenAI released CLIP."""
    height, width = clip_model_image_size(model)
    images = torch.ones(1, 3, height, width)
    texts = torch.zeros(1, clip_model_context_length(model), dtype=torch.int)
    traced = torch.jit.trace_module(
        model.eval(),
        inputs=dict(
            forward=(images, texts),
            encode_image=(images, ),
            encode_text=(texts, )),
        check_trace=False)
    torch.jit.save(traced, path)
    return path


def save_clip_state_dict(model: nn.Module, path: str) -> str:
    """Save ``model``'s state dict with ``torch.save``."""
    torch.save(model.state_dict(), path)
    return path
