"""Every open_clip internal the model relies on, one test per assumption.

The backbones, the text encoder and the prompt encoder wrap open_clip's
towers and reach some of their attributes directly. ``setup.py`` allows
``open_clip_torch>=2.26,<4``: 2.26 made the transformer blocks batch-first,
which the code assumes (with sequence-first blocks the ViT would attend
across the batch without an error). If another installed open_clip breaks
one of these assumptions, its test fails and says which.
"""
import inspect

import open_clip
import pytest
import torch
from open_clip import modified_resnet, pretrained, transformer
from torch import nn

REQUIRED = 'promptpose_mm needs open_clip_torch>=2.26,<4'


def lacks(what: str) -> str:
    return (f'open_clip {open_clip.__version__} {what}; {REQUIRED} '
            '(requirements/stack.txt pins the tested version)')


def tiny_text() -> transformer.TextTransformer:
    return transformer.TextTransformer(
        context_length=8,
        vocab_size=50,
        width=16,
        heads=2,
        layers=2,
        output_dim=12,
        act_layer=transformer.QuickGELU,
        norm_layer=transformer.LayerNorm)


def tiny_vit() -> transformer.VisionTransformer:
    return transformer.VisionTransformer(
        image_size=(32, 16),
        patch_size=8,
        width=16,
        layers=2,
        heads=2,
        mlp_ratio=4.0,
        output_dim=12,
        act_layer=transformer.QuickGELU,
        norm_layer=transformer.LayerNorm)


def test_blocks_are_batch_first():
    block = transformer.ResidualAttentionBlock(
        16, 2, act_layer=transformer.QuickGELU, batch_first=True)
    assert isinstance(block.attn, nn.MultiheadAttention) and \
        block.attn.batch_first, lacks('has no batch-first attention blocks')
    for tower in (tiny_text(), tiny_vit()):
        assert tower.transformer.batch_first, lacks(
            f'builds a sequence-first {type(tower).__name__}')
        assert all(b.attn.batch_first
                   for b in tower.transformer.resblocks), lacks(
                       'builds sequence-first resblocks')


def test_batch_first_blocks_keep_samples_apart():
    """A (B, L, C) input: changing sample 1 leaves sample 0's output."""
    block = tiny_vit().transformer.resblocks[0].eval()
    x = torch.randn(2, 5, 16)
    y = x.clone()
    y[1] += 1
    assert torch.allclose(
        block(x)[0],
        block(y)[0]), lacks('attends across the batch in its blocks')


def test_block_attribute_names():
    block = tiny_text().transformer.resblocks[0]
    for name in ('ln_1', 'ln_2', 'mlp', 'ls_1', 'ls_2', 'attn'):
        assert hasattr(block, name), lacks(f'has no ResidualAttentionBlock.'
                                           f'{name}')
    attn = block.attn
    assert attn.in_proj_weight.shape == (48, 16) and \
        attn.in_proj_bias.shape == (48, ), lacks(
            'has no packed in_proj_weight/in_proj_bias')
    assert isinstance(attn.out_proj, nn.Linear), lacks('has no out_proj')


def test_text_transformer_attributes():
    text = tiny_text()
    for name in ('token_embedding', 'positional_embedding', 'ln_final',
                 'text_projection', 'transformer'):
        assert hasattr(text, name), lacks(f'has no TextTransformer.{name}')
    assert text.positional_embedding.shape == (8, 16)
    assert text.text_projection.shape == (
        16, 12), lacks('stores text_projection in another shape')
    assert text.transformer.get_cast_dtype() == torch.float32
    assert text.transformer.layers == 2


def test_vision_transformer_attributes():
    vit = tiny_vit()
    for name in ('conv1', 'class_embedding', 'positional_embedding',
                 'patch_dropout', 'ln_pre', 'ln_post', 'proj', 'transformer'):
        assert hasattr(vit, name), lacks(f'has no VisionTransformer.{name}')
    # a (H, W) image size gives an (H/p * W/p + 1, width) embedding
    assert vit.positional_embedding.shape == (
        4 * 2 + 1,
        16), lacks('does not build non-square grids from image_size=(H, W)')
    assert vit.class_embedding.shape == (16, )
    assert vit.proj.shape == (16, 12)


def test_modified_resnet_attributes():
    net = modified_resnet.ModifiedResNet(
        layers=[1, 1, 1, 1], output_dim=12, heads=2, image_size=64, width=8)
    assert callable(getattr(net, 'stem',
                            None)), lacks('has no ModifiedResNet.stem')
    for index in range(1, 5):
        assert hasattr(net, f'layer{index}')
    pool = net.attnpool
    assert isinstance(pool, modified_resnet.AttentionPool2d)
    for name in ('q_proj', 'k_proj', 'v_proj', 'c_proj'):
        assert isinstance(getattr(pool, name),
                          nn.Linear), lacks(f'has no AttentionPool2d.{name}')
    assert pool.num_heads == 2
    # a (h*w + 1, C) positional embedding for the 2x2 grid of 64 px
    assert pool.positional_embedding.shape == (2 * 2 + 1, 8 * 32)


def test_tokenizer():
    tokens = open_clip.tokenize(['left front paw'], context_length=9)
    assert tokens.shape == (1, 9)
    assert tokens[0, 0] == 49406, lacks('has another [SOS] token id')
    assert 49407 in tokens[0].tolist(), lacks('has another [EOS] token id')


@pytest.mark.parametrize('name', [
    'get_pretrained_cfg', 'download_pretrained',
    'list_pretrained_tags_by_model', 'download_pretrained_from_url'
])
def test_pretrained_helpers(name):
    assert callable(getattr(
        pretrained, name, None)), lacks(f'has no open_clip.pretrained.{name}')
    assert inspect.signature(getattr(pretrained, name)).parameters
