"""Every open_clip internal the model relies on, one test per assumption.

``promptpose_mm.models.clip.open_clip_api`` is the only module that imports
open_clip; the backbones, the text encoder, the prompt encoder, the loaders,
the converter and the test fixtures reach open_clip through its functions.
Each test below checks one assumption of that module against the installed
open_clip. ``setup.py`` allows ``open_clip_torch>=2.26,<4``
(``OPEN_CLIP_REQUIREMENT``): 2.26 made the transformer blocks batch-first,
which the code assumes (with sequence-first blocks the ViT would attend
across the batch without an error), and 4.x replaces the blocks'
``nn.MultiheadAttention``. If another installed open_clip breaks one of
these assumptions, its test fails and says which, naming the version.
"""
import ast
import inspect
import os
import os.path as osp
from importlib import metadata

import open_clip
import pytest
import torch
from open_clip import modified_resnet, pretrained, transformer
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from torch import nn

from promptpose_mm.models.clip import open_clip_api as api
from promptpose_mm.models.clip import sub_state_dict
from tests.paths import ROOT

PACKAGE = osp.join(ROOT, 'promptpose_mm')
API_FILE = osp.join(PACKAGE, 'models', 'clip', 'open_clip_api.py')
REQUIRED = f'promptpose_mm needs open_clip_torch{api.OPEN_CLIP_REQUIREMENT}'


def lacks(what: str) -> str:
    return (f'open_clip {open_clip.__version__} {what}; {REQUIRED} '
            '(requirements/stack.txt pins the tested version)')


def tiny_text() -> transformer.TextTransformer:
    return api.build_text_tower(
        context_length=8,
        vocab_size=50,
        width=16,
        heads=2,
        layers=2,
        mlp_ratio=4.0,
        embed_dim=12)


def tiny_vit() -> transformer.VisionTransformer:
    return api.build_vit_tower(
        image_size=(32, 16),
        patch_size=8,
        width=16,
        layers=2,
        heads=2,
        embed_dim=12)


def tiny_resnet(image_size=(64, 64)) -> modified_resnet.ModifiedResNet:
    return api.build_resnet_tower(
        layers=[1, 1, 1, 1],
        width=8,
        heads=2,
        embed_dim=12,
        image_size=image_size)


# ---------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------
def setup_requirement() -> Requirement:
    with open(osp.join(ROOT, 'setup.py')) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'install_requires':
            for line in ast.literal_eval(node.value):
                req = Requirement(line)
                if req.name == 'open_clip_torch':
                    return req
    raise AssertionError('setup.py does not require open_clip_torch')


def test_supported_range_is_setup_pys_and_holds_the_installed_version():
    req = setup_requirement()
    assert req.specifier == SpecifierSet(api.OPEN_CLIP_REQUIREMENT), (
        f'setup.py asks for open_clip_torch{req.specifier}, but '
        f'open_clip_api.py states its assumptions for '
        f'{api.OPEN_CLIP_REQUIREMENT}: change both together')
    installed = metadata.version('open_clip_torch')
    assert installed == api.OPEN_CLIP_VERSION == open_clip.__version__
    assert req.specifier.contains(
        installed, prereleases=True), lacks('is installed')
    with open(osp.join(ROOT, 'requirements', 'stack.txt')) as f:
        pins = [
            Requirement(line.split('#')[0].strip()) for line in f
            if line.split('#')[0].strip().startswith('open_clip_torch')
        ]
    assert len(pins) == 1, 'requirements/stack.txt must pin open_clip_torch'
    version, = [s.version for s in pins[0].specifier if s.operator == '==']
    assert req.specifier.contains(version), (
        f'requirements/stack.txt pins open_clip_torch {version}, outside '
        f'{api.OPEN_CLIP_REQUIREMENT}')


def _imports_open_clip(tree: ast.AST) -> list:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or '']
        else:
            continue
        found += [(node.lineno, name) for name in names
                  if name == 'open_clip' or name.startswith('open_clip.')]
    return found


def test_no_other_module_imports_open_clip():
    offenders = []
    for folder, folders, files in os.walk(PACKAGE):
        # not .mim (the configs and tools mim installs) nor caches
        folders[:] = [
            name for name in folders
            if not name.startswith('.') and name != '__pycache__'
        ]
        for name in files:
            path = osp.join(folder, name)
            if not name.endswith('.py') or path == API_FILE:
                continue
            with open(path) as f:
                tree = ast.parse(f.read(), filename=path)
            offenders += [
                f'{osp.relpath(path, ROOT)}:{line} imports {module}'
                for line, module in _imports_open_clip(tree)
            ]
    assert not offenders, (
        'only promptpose_mm/models/clip/open_clip_api.py may import '
        'open_clip (add a function there instead): ' + '; '.join(offenders))
    with open(API_FILE) as f:
        assert _imports_open_clip(ast.parse(f.read()))


# ---------------------------------------------------------------------------
# Transformer blocks
# ---------------------------------------------------------------------------
def test_blocks_are_batch_first():
    block = api.build_residual_block(16, 2)
    assert isinstance(block.attn, nn.MultiheadAttention) and \
        block.attn.batch_first, lacks('has no batch-first attention blocks')
    for tower in (tiny_text(), tiny_vit()):
        assert tower.transformer.batch_first, lacks(
            f'builds a sequence-first {type(tower).__name__}')
        assert all(b.attn.batch_first for b in api.transformer_blocks(
            tower)), lacks('builds sequence-first resblocks')


def test_batch_first_blocks_keep_samples_apart():
    """A (B, L, C) input: changing sample 1 leaves sample 0's output."""
    block = api.transformer_blocks(tiny_vit())[0].eval()
    x = torch.randn(2, 5, 16)
    y = x.clone()
    y[1] += 1
    assert torch.allclose(
        api.run_block_batch_first(block, x)[0],
        api.run_block_batch_first(
            block, y)[0]), lacks('attends across the batch in its blocks')


def test_block_attribute_names():
    block = api.transformer_blocks(tiny_text())[0]
    for name in ('ln_1', 'ln_2', 'mlp', 'ls_1', 'ls_2', 'attn'):
        assert hasattr(block, name), lacks(f'has no ResidualAttentionBlock.'
                                           f'{name}')
    attn = api.block_attention(block)
    assert attn is block.attn
    assert attn.in_proj_weight.shape == (48, 16) and \
        attn.in_proj_bias.shape == (48, ), lacks(
            'has no packed in_proj_weight/in_proj_bias')
    assert isinstance(attn.out_proj, nn.Linear), lacks('has no out_proj')
    weight, bias, out_proj, heads = api.attention_in_projection(attn)
    assert weight is attn.in_proj_weight and bias is attn.in_proj_bias
    assert out_proj is attn.out_proj and heads == 2
    x = torch.randn(3, 16)
    assert torch.equal(api.block_attention_input(block, x), block.ln_1(x))


def test_residual_block_forward_is_the_blocks_forward():
    """The pre-LN formula with the block's own attention equals
    ``ResidualAttentionBlock.forward``; a branch hook and a precomputed
    ``ln_1`` plug in where expected."""
    block = api.transformer_blocks(tiny_vit())[1].eval()
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        expected = block(x)
        assert torch.equal(api.residual_block_forward(block, x),
                           expected), lacks(
                               'computes ResidualAttentionBlock.forward '
                               'otherwise (x + ls_1(attn(ln_1(x))), then '
                               '+ ls_2(mlp(ln_2(.))))')
        normed = block.ln_1(x)
        assert torch.equal(
            api.residual_block_forward(block, x, normed=normed), expected)
        mask = torch.zeros(5, 5)
        assert torch.equal(
            api.block_self_attention(block, normed, attn_mask=mask),
            block.attention(normed, attn_mask=mask))
        zeroed = api.residual_block_forward(block, x, branch=torch.zeros_like)
    assert torch.equal(zeroed, x)


def test_share_block_parts_keeps_the_state_dict():
    block = api.transformer_blocks(tiny_vit())[0].eval()
    shell = nn.Module()
    api.share_block_parts(shell, block)
    assert list(shell.state_dict()) == list(block.state_dict()), lacks(
        'keeps ResidualAttentionBlock state outside its child modules')
    assert all(a is b for a, b in zip(shell.parameters(), block.parameters()))
    x = torch.randn(1, 4, 16)
    with torch.no_grad():
        assert torch.equal(
            api.residual_block_forward(
                shell, x, attend=lambda n: block.attention(n)), block(x))


def test_block_activation_is_quick_gelu():
    block = api.build_residual_block(16, 2)
    act = api.block_mlp_activation(block)
    assert api.is_quick_gelu(act), lacks('names the MLP activation other '
                                         'than mlp.gelu')
    x = torch.randn(7)
    assert torch.allclose(act(x), x * torch.sigmoid(1.702 * x))
    assert not api.is_quick_gelu(nn.GELU())
    assert api.block_mlp_activation(None) is None


def test_layer_norm():
    norm = api.build_layer_norm(16)
    assert isinstance(norm, nn.LayerNorm)
    x = torch.randn(3, 16)
    torch.testing.assert_close(
        norm(x), nn.functional.layer_norm(x, (16, ), norm.weight, norm.bias))


# ---------------------------------------------------------------------------
# Text tower
# ---------------------------------------------------------------------------
def test_text_transformer_attributes():
    text = tiny_text()
    for name in ('token_embedding', 'positional_embedding', 'ln_final',
                 'text_projection', 'transformer'):
        assert hasattr(text, name), lacks(f'has no TextTransformer.{name}')
    assert api.text_positions(text).shape == (8, 16)
    assert text.text_projection.shape == (
        16, 12), lacks('stores text_projection in another shape')
    assert api.text_embed_dim(text) == 12
    assert api.text_cast_dtype(text) == torch.float32
    assert api.text_tower_config(text) == dict(
        width=16,
        heads=2,
        layers=2,
        context_length=8,
        vocab_size=50,
        embed_dim=12), lacks('names the TextTransformer sizes otherwise')
    assert all(
        key.startswith(api.TEXT_STATE_PREFIXES)
        for key in text.state_dict()), lacks(
            "gives the text tower other state dict keys than OpenAI's")


def test_text_helpers_compose_the_towers_forward():
    """Embedding, positions, blocks under the causal mask, ``[EOT]``
    pooling and ``text_final`` give ``TextTransformer.forward``."""
    text = tiny_text().eval()
    tokens = torch.tensor([[1, 5, 7, 49, 0, 0, 0, 0],
                           [1, 3, 49, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        x = api.text_embed(text, tokens) + api.text_positions(text)
        for block in api.transformer_blocks(text):
            x = api.residual_block_forward(
                block,
                x,
                attend=lambda n, b=block: api.block_self_attention(
                    b, n, attn_mask=text.attn_mask))
        ours = api.text_final(text, x[torch.arange(2), tokens.argmax(-1)])
        expected = text(tokens)
    assert torch.allclose(
        ours, expected,
        atol=1e-6), lacks('computes TextTransformer.forward otherwise')


def test_tokenizer():
    tokens = api.tokenize(['left front paw'], context_length=9)
    assert tokens.shape == (1, 9)
    assert tokens[0, 0] == api.SOT_TOKEN == 49406, lacks(
        'has another [SOS] token id')
    assert api.EOT_TOKEN in tokens[0].tolist(), lacks(
        'has another [EOS] token id')
    assert tokens[0].argmax() == tokens[0].tolist().index(api.EOT_TOKEN)
    assert tokens[0, tokens[0].argmax() + 1:].eq(0).all()
    cut = api.tokenize(['a very long name of a keypoint'], context_length=4)
    assert cut[0, -1] == api.EOT_TOKEN, lacks('does not end a cut text '
                                              'with [EOS]')
    assert torch.equal(
        tokens, open_clip.tokenize(['left front paw'], context_length=9))


# ---------------------------------------------------------------------------
# Vision transformer
# ---------------------------------------------------------------------------
def test_vision_transformer_attributes():
    vit = tiny_vit()
    for name in ('conv1', 'class_embedding', 'positional_embedding',
                 'patch_dropout', 'ln_pre', 'ln_post', 'proj', 'transformer'):
        assert hasattr(vit, name), lacks(f'has no VisionTransformer.{name}')
    # a (H, W) image size gives an (H/p * W/p + 1, width) embedding
    assert vit.get_parameter(api.VIT_POS_EMBED_KEY).shape == (
        4 * 2 + 1,
        16), lacks('does not build non-square grids from image_size=(H, W)')
    assert vit.class_embedding.shape == (16, )
    assert vit.proj.shape == (16, 12)
    assert all(hasattr(vit, name) for name in api.VIT_CLIP_SPACE_NAMES)
    parts = api.vit_stem_parts(vit)
    assert parts[0] is vit.conv1 and parts[-1] is vit.ln_pre
    assert isinstance(
        api.transformer_blocks(vit)[0], api.ResidualAttentionBlock)


def test_vit_helpers_compose_the_towers_forward():
    vit = tiny_vit().eval()
    images = torch.randn(2, 3, 32, 16)
    with torch.no_grad():
        patches, height, width = api.vit_patch_tokens(vit, images)
        assert patches.shape == (2, 4 * 2, 16) and (height, width) == (4, 2)
        x = api.vit_input_tokens(vit, patches, vit.positional_embedding)
        for block in api.transformer_blocks(vit):
            x = api.run_block_batch_first(block, x)
        x = api.vit_final_norm(vit, x)
        ours = api.vit_project(vit, x[:, 0])
        expected = vit(images)
    assert torch.equal(
        ours, expected), lacks('computes VisionTransformer.forward otherwise')


# ---------------------------------------------------------------------------
# Modified ResNet
# ---------------------------------------------------------------------------
def test_modified_resnet_attributes():
    net = tiny_resnet()
    assert callable(getattr(net, 'stem',
                            None)), lacks('has no ModifiedResNet.stem')
    for index in range(1, api.RESNET_NUM_LAYERS + 1):
        assert hasattr(net, f'layer{index}')
        assert api.resnet_layer(net, index) is getattr(net, f'layer{index}')
    assert all(hasattr(net, name) for name in api.RESNET_STEM_NAMES)
    assert len(api.resnet_stem_parts(net)) == 6
    pool = api.resnet_attention_pool(net)
    assert isinstance(pool, modified_resnet.AttentionPool2d)
    for name in ('q_proj', 'k_proj', 'v_proj', 'c_proj'):
        assert isinstance(getattr(pool, name),
                          nn.Linear), lacks(f'has no AttentionPool2d.{name}')
    assert pool.num_heads == 2
    # a (h*w + 1, C) positional embedding for the 2x2 grid of 64 px
    assert net.get_parameter(api.RESNET_POS_EMBED_KEY).shape == (2 * 2 + 1,
                                                                 8 * 32)
    assert all(hasattr(net, name) for name in api.RESNET_CLIP_SPACE_NAMES)


def test_resnet_non_square_image_size():
    net = tiny_resnet((64, 32))
    assert net.image_size == (64, 32)
    # built square for H; the backbone resizes it to the (2, 1) grid
    assert net.get_parameter(api.RESNET_POS_EMBED_KEY).shape[0] == 5


def test_resnet_helpers_compose_the_towers_forward():
    """Stem, layers and the attention pool's token 0 give
    ``ModifiedResNet.forward``."""
    net = tiny_resnet().eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        x = api.resnet_stem(net, images)
        for index in range(1, api.RESNET_NUM_LAYERS + 1):
            x = api.resnet_layer(net, index)(x)
        pool = api.resnet_attention_pool(net)
        tokens = api.attention_pool_tokens(pool, x)
        expected = net(images)
    assert tokens.shape == (1 + 2 * 2, 2, 12)
    assert torch.allclose(
        tokens[0], expected, atol=1e-6), lacks(
            'computes AttentionPool2d.forward otherwise (q/k/v/c_proj)')


# ---------------------------------------------------------------------------
# Whole models and pretrained weights
# ---------------------------------------------------------------------------
def test_clip_model_has_openai_key_names():
    model = api.build_clip_model(
        16, dict(layers=(1, 1, 1, 1), width=8, head_width=16, image_size=64),
        dict(context_length=8, vocab_size=50, width=16, heads=2, layers=1))
    state = model.state_dict()
    assert {'visual.conv1.weight', 'token_embedding.weight'} <= set(state)
    assert api.clip_model_image_size(model) == (64, 64)
    assert api.clip_model_context_length(model) == 8
    # the towers built alone have the same keys
    tower = api.build_resnet_tower(
        layers=[1, 1, 1, 1],
        width=8,
        heads=8 * 32 // 16,
        embed_dim=16,
        image_size=(64, 64))
    assert set(tower.state_dict()) == set(sub_state_dict(
        state, 'visual.')), lacks('names the visual tower keys otherwise')


@pytest.mark.parametrize('name', [
    'get_pretrained_cfg', 'download_pretrained',
    'list_pretrained_tags_by_model', 'download_pretrained_from_url'
])
def test_pretrained_helpers(name):
    assert callable(getattr(
        pretrained, name, None)), lacks(f'has no open_clip.pretrained.{name}')
    assert inspect.signature(getattr(pretrained, name)).parameters


def test_pretrained_tags():
    assert 'openai' in api.list_pretrained_tags('RN50'), lacks(
        'has no RN50/openai pretrained tag')
    assert 'openai' in api.list_pretrained_tags('ViT-B-16')
    # an unknown tag is reported, nothing is downloaded
    assert api.download_pretrained_tag('RN50', 'no-such-tag') is None
    assert 'cache_dir' in inspect.signature(
        pretrained.download_pretrained).parameters
