"""The CLAMP checkpoint converter: layout, folded formulas, clear errors.

A synthetic CLAMP checkpoint is written from a tiny plugin model by the
inverse mapping below, which spells CLAMP's key names out independently of
the converter's rules (github.com/xuzhang1199/CLAMP, MMPose 0.x). Converted
back, it must give the original model's outputs; CLAMP's own formulas (ViT
class token with the class embedding added twice, the context decoder's
separate q/k/v projections) are computed here from the CLAMP tensors and
must equal the converted model's.
"""
import importlib.util
import os.path as osp
import re

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from open_clip.transformer import QuickGELU

import promptpose_mm  # noqa: F401  (registers, allows MMEngine types)
from promptpose_mm.converters import (CLAMP_AP10K_KEYPOINT_NAMES,
                                      CLAMPConversionError, build_target_model,
                                      convert_clamp_checkpoint,
                                      convert_clamp_state_dict)
from promptpose_mm.testing import TINY_CLIP_SPECS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(ROOT, 'configs', 'promptpose_tiny_ap10k.py')
TOOL = osp.join(ROOT, 'tools', 'convert_clamp_checkpoint.py')
ATOL = 1e-5


def tiny_cfg(kind: str) -> Config:
    """The tiny config, with a tiny CLIP ViT instead of the ResNet for
    ``kind == 'vit'`` (TINY_CLIP_SPECS['vit'], 256x256: a 16x16 grid)."""
    cfg = Config.fromfile(TINY)
    if kind == 'vit':
        spec = TINY_CLIP_SPECS['vit']
        vision = spec['vision']
        cfg.model.backbone = dict(
            type='CLIPVisionTransformer',
            patch_size=vision['patch_size'],
            width=vision['width'],
            layers=vision['layers'],
            head_width=vision['head_width'],
            embed_dim=spec['embed_dim'],
            input_size=(256, 256),
            out_indices=(vision['layers'] - 1, ),
            init_cfg=None)
        cfg.model.head.in_channels = vision['width']
        cfg.model.head.deconv_out_channels = (32, 32)
        cfg.model.head.deconv_kernel_sizes = (4, 4)
        cfg.model.head.pixel_deconv_out_channels = None
    return cfg


def build(kind: str, seed: int):
    torch.manual_seed(seed)
    return build_target_model(tiny_cfg(kind)).eval()


@torch.no_grad()
def perturbed(model, seed: int = 1):
    """Every weight random and far from its init, so a mis-mapped key shows;
    the context decoder's q/k/v biases zero, as CLAMP has none."""
    gen = torch.Generator().manual_seed(seed)
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue
        noise = torch.randn(tensor.shape, generator=gen)
        if name.endswith('running_var'):
            tensor.copy_(0.5 + noise.abs())
        elif 'context_decoder' in name and name.endswith('in_proj_bias'):
            tensor.zero_()
        else:
            tensor.add_(0.1 * noise)
    model.neck.gamma.fill_(0.5)  # the context decoder's output matters
    return model


# ---------------------------------------------------------------------------
# The CLAMP layout, written out (inverse of the conversion)
# ---------------------------------------------------------------------------
_PREFIXES = (
    ('backbone.clip.', 'backbone.'),
    ('neck.text_encoder.clip.', 'text_encoder.'),
    ('neck.prompt_encoder.block.', 'prompt_encoder.transformer.resblocks.0.'),
    ('neck.prompt_encoder.norm.', 'prompt_encoder.ln_final.'),
    ('head.pixel_branch.', 'upconv_head.'),
    ('head.', 'keypoint_head.'),
)
_DECODER_PARTS = {
    'linear1': 'mlp.0',
    'linear2': 'mlp.3',
    'norm1': 'norm1',
    'norm2': 'norm2',
    'norm3': 'norm3'
}
_ATTENTION = {'self_attn': 'self_attn', 'multihead_attn': 'cross_attn'}
# configuration buffers of ours that CLAMP has no counterpart for
_NOT_IN_CLAMP = ('backbone.pos_embed_grid', )


def to_clamp(state, kind: str, text_positions: int) -> dict:
    """A CLAMP ``CLAMP`` model's state dict holding ``state``'s weights."""
    out = {}
    for key, value in state.items():
        if key in _NOT_IN_CLAMP:
            continue
        value = value.clone()
        match = re.fullmatch(
            r'neck\.context_decoder\.decoder\.(\d+)\.'
            r'(\w+)\.(.+)', key)
        if key == 'neck.text_encoder.context':
            out['contexts'] = value[None]  # (1, n, W)
        elif key == 'neck.gamma':
            out['gamma'] = value
        elif key == 'head.semantic_loss_module.logit_scale':
            out['logit_scale'] = value
        elif match and match.group(2) in _ATTENTION:
            layer, attn, rest = match.groups()
            prefix = f'context_decoder.decoder.{layer}.{_ATTENTION[attn]}.'
            if rest == 'in_proj_weight':
                for part, chunk in zip('qkv', value.chunk(3)):
                    out[f'{prefix}{part}_proj.weight'] = chunk
            elif rest == 'in_proj_bias':
                assert not value.any(), 'CLAMP has no q/k/v bias'
            else:
                out[prefix + rest.replace('out_proj.', 'proj.')] = value
        elif match:
            layer, part, rest = match.groups()
            out[f'context_decoder.decoder.{layer}.{_DECODER_PARTS[part]}.'
                f'{rest}'] = value
        elif key.startswith('neck.context_decoder.'):
            out[key[len('neck.'):]] = value
        else:
            ours, theirs = next(
                (a, b) for a, b in _PREFIXES if key.startswith(a))
            out[theirs + key[len(ours):]] = value
    # CLAMP keeps only the text positions its prompts use ...
    out['text_encoder.positional_embedding'] = out[
        'text_encoder.positional_embedding'][:text_positions].clone()
    # ... adds the class embedding twice (CLAMP pos[0] = ours - class) ...
    if kind == 'vit':
        out['backbone.positional_embedding'][0] -= out[
            'backbone.class_embedding']
    # ... and holds parameters its forward pass never reads.
    dim = out['gamma'].shape[0]
    out['text_projection'] = torch.randn(dim, dim)
    out['prompt_encoder.positional_embedding'] = torch.randn(17, dim)
    out['prompt_encoder.text_projection'] = torch.randn(dim, dim)
    return out


def save_clamp(state, path) -> str:
    """As CLAMP's MMCV 1.x runner saves a checkpoint."""
    torch.save(
        dict(
            meta=dict(epoch=210, iter=1000, mmcv_version='1.3.8'),
            state_dict=state,
            optimizer=dict(state={}, param_groups=[dict(lr=5e-4)])), str(path))
    return str(path)


def make_case(kind: str):
    """(kind, original model, CLAMP state dict, fresh target model)."""
    original = perturbed(build(kind, seed=0))
    length = original.neck.text_encoder.prompt_length
    clamp = to_clamp(original.state_dict(), kind, length)
    return kind, original, clamp, build(kind, seed=5)


@pytest.fixture(scope='module')
def resnet_case():
    return make_case('resnet')


@pytest.fixture(scope='module')
def vit_case():
    return make_case('vit')


@pytest.fixture(params=['resnet', 'vit'])
def case(request):
    return request.getfixturevalue(f'{request.param}_case')


def _image(seed: int = 0):
    return torch.randn(
        1, 3, 256, 256, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def _outputs(model, image):
    feats = model.neck(model.backbone(image))
    return dict(
        dense=feats.dense,
        text=feats.text,
        score_map=feats.score_map,
        heatmaps=model.head(feats),
        pixel=model.head.forward_pixel(feats))


# ---------------------------------------------------------------------------
# Round trip: same outputs, loadable as MMEngine checkpoints
# ---------------------------------------------------------------------------
def test_clamp_keys_are_clamp_layout(case):
    kind, _, clamp, _ = case
    assert 'contexts' in clamp and clamp['contexts'].dim() == 3
    assert 'context_decoder.decoder.0.self_attn.q_proj.weight' in clamp
    assert 'context_decoder.decoder.0.cross_attn.proj.bias' in clamp
    assert 'upconv_head.final_layer.weight' in clamp
    marker = dict(
        vit='backbone.class_embedding',
        resnet='backbone.attnpool.q_proj.weight')[kind]
    assert marker in clamp
    assert not any(key.startswith(('neck.', 'head.')) for key in clamp)


def test_convert_file_round_trip(case, tmp_path):
    kind, original, clamp, fresh = case
    src = save_clamp(clamp, tmp_path / 'clamp.pth')
    dst = str(tmp_path / 'converted.pth')
    result = convert_clamp_checkpoint(src, dst, config=tiny_cfg(kind))
    assert result.backbone == kind
    assert not result.missing and not result.unused
    assert sorted(result.dropped) == [
        'prompt_encoder.positional_embedding',
        'prompt_encoder.text_projection', 'text_projection'
    ]

    # plain MMEngine checkpoint, readable with torch's weights_only default
    ckpt = torch.load(dst, weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}
    assert ckpt['meta']['converted_from'] == osp.abspath(src)
    assert ckpt['meta']['clamp_backbone'] == kind
    assert ckpt['meta']['source_meta']['epoch'] == 210
    load_checkpoint(fresh, dst, map_location='cpu', strict=True)

    image = _image()
    expected, actual = _outputs(original, image), _outputs(fresh, image)
    for name, value in expected.items():
        torch.testing.assert_close(
            actual[name], value, atol=ATOL, rtol=0, msg=name)
    # the dropped text positions are zeros; the used ones are CLAMP's
    length = original.neck.text_encoder.prompt_length
    text_pos = fresh.neck.text_encoder.clip.positional_embedding
    assert torch.equal(text_pos[:length],
                       clamp['text_encoder.positional_embedding'])
    assert not text_pos[length:].any()


def test_clip_positions_fill_the_dropped_rows(case):
    _, original, clamp, fresh = case
    full = original.neck.text_encoder.clip.positional_embedding.detach()
    result = convert_clamp_state_dict(
        clamp, fresh.state_dict(), clip_positions=full)
    converted = result.state_dict
    assert result.text_fill == 'clip'
    torch.testing.assert_close(
        converted['neck.text_encoder.clip.positional_embedding'],
        full,
        atol=0,
        rtol=0)
    for key, value in original.state_dict().items():
        torch.testing.assert_close(
            converted[key], value, atol=1e-6, rtol=0, msg=key)


# ---------------------------------------------------------------------------
# CLAMP's formulas computed from the CLAMP tensors
# ---------------------------------------------------------------------------
def _clamp_vit_tokens(clamp, image):
    """CLAMP's CLIPVisionTransformer.forward up to ln_pre."""
    weight = clamp['backbone.conv1.weight']
    x = F.conv2d(image, weight, stride=weight.shape[-1])
    batch, width, height, grid_w = x.shape
    x = x.reshape(batch, width, -1).permute(0, 2, 1)
    cls = clamp['backbone.class_embedding']
    x = torch.cat([cls + torch.zeros(batch, 1, width), x], dim=1)
    pos = clamp['backbone.positional_embedding']
    cls_pos = pos[0] + cls  # added a second time
    side = int((pos.shape[0] - 1)**0.5)
    spatial = F.interpolate(
        pos[1:].reshape(1, side, side, width).permute(0, 3, 1, 2),
        size=(height, grid_w),
        mode='bilinear')
    spatial = spatial.reshape(1, width, height * grid_w).permute(0, 2, 1)
    x = x + torch.cat([cls_pos.reshape(1, 1, width), spatial], dim=1)
    return F.layer_norm(x, (width, ), clamp['backbone.ln_pre.weight'],
                        clamp['backbone.ln_pre.bias'])


@torch.no_grad()
def test_vit_class_embedding_folded(vit_case):
    _, _, clamp, fresh = vit_case
    result = convert_clamp_state_dict(clamp, fresh.state_dict())
    fresh.load_state_dict(result.state_dict, strict=True)
    clip = fresh.backbone.clip
    cls = clamp['backbone.class_embedding']
    assert cls.norm() > 0.5  # the difference is far from negligible
    # CLAMP's class token before ln_pre: class + pos[0] + class
    torch.testing.assert_close(
        clip.class_embedding + clip.positional_embedding[0],
        2 * cls + clamp['backbone.positional_embedding'][0],
        atol=1e-6,
        rtol=0)
    torch.testing.assert_close(clip.positional_embedding[1:],
                               clamp['backbone.positional_embedding'][1:])

    # end to end: CLAMP's tokens through the (shared) blocks and projection
    image = _image(seed=3)
    x = _clamp_vit_tokens(clamp, image)
    for block in clip.transformer.resblocks:
        x = block(x)
    x = F.layer_norm(x, x.shape[-1:], clamp['backbone.ln_post.weight'],
                     clamp['backbone.ln_post.bias']) @ clamp['backbone.proj']
    level, dense, global_embed = fresh.backbone(image)
    torch.testing.assert_close(global_embed, x[:, 0], atol=ATOL, rtol=0)
    torch.testing.assert_close(
        dense.flatten(2).transpose(1, 2), x[:, 1:], atol=ATOL, rtol=0)


def _clamp_attention(clamp, prefix, query, key, heads):
    """CLAMP's Attention (separate q/k/v projections, no bias)."""
    batch, num, width = query.shape
    head_dim = width // heads

    def project(x, name):
        weight = clamp[f'{prefix}{name}_proj.weight']
        return (x @ weight.T).reshape(batch, x.shape[1], heads, head_dim)

    q, k, v = project(query, 'q'), project(key, 'k'), project(key, 'v')
    attn = torch.einsum('bnkc,bmkc->bknm', q, k) * head_dim**-0.5
    x = torch.einsum('bknm,bmkc->bnkc', attn.softmax(dim=-1), v)
    return F.linear(
        x.reshape(batch, num, width), clamp[prefix + 'proj.weight'],
        clamp[prefix + 'proj.bias'])


def _clamp_context_decoder(clamp, text, visual, layers, heads):
    """CLAMP's ContextDecoder.forward in eval mode."""

    def norm(x, name):
        return F.layer_norm(x, x.shape[-1:], clamp[f'{name}.weight'],
                            clamp[f'{name}.bias'])

    def linear(x, name):
        return F.linear(x, clamp[f'{name}.weight'], clamp[f'{name}.bias'])

    pre = 'context_decoder.'
    memory = norm(
        linear(norm(visual, pre + 'memory_proj.0'), pre + 'memory_proj.1'),
        pre + 'memory_proj.2')
    x = linear(norm(text, pre + 'text_proj.0'), pre + 'text_proj.1')
    for index in range(layers):
        layer = f'{pre}decoder.{index}.'
        h = norm(x, layer + 'norm1')
        x = x + _clamp_attention(clamp, layer + 'self_attn.', h, h, heads)
        x = x + _clamp_attention(clamp, layer + 'cross_attn.',
                                 norm(x, layer + 'norm2'), memory, heads)
        hidden = F.gelu(linear(norm(x, layer + 'norm3'), layer + 'mlp.0'))
        x = x + linear(hidden, layer + 'mlp.3')
    return linear(norm(x, pre + 'out_proj.0'), pre + 'out_proj.1')


@torch.no_grad()
def test_context_decoder_equals_clamp_formula(case):
    _, _, clamp, fresh = case
    result = convert_clamp_state_dict(clamp, fresh.state_dict())
    fresh.load_state_dict(result.state_dict, strict=True)
    decoder = fresh.neck.context_decoder
    gen = torch.Generator().manual_seed(4)
    dim = fresh.neck.embed_dim
    text = torch.randn(2, 17, dim, generator=gen)
    visual = torch.randn(2, 1 + 64, dim, generator=gen)
    heads = decoder.decoder[0].self_attn.num_heads
    expected = _clamp_context_decoder(clamp, text, visual,
                                      len(decoder.decoder), heads)
    torch.testing.assert_close(
        decoder(text, visual), expected, atol=ATOL, rtol=0)


def test_compatibility_warnings(resnet_case, tmp_path):
    kind, _, clamp, fresh = resnet_case
    src = save_clamp(clamp, tmp_path / 'clamp.pth')
    result = convert_clamp_checkpoint(
        src, str(tmp_path / 'out.pth'), config=tiny_cfg(kind))
    text = ' | '.join(result.warnings)
    # the tiny config humanizes AP-10K's names: 'root of tail' for CLAMP's
    # 'tail root'
    assert "'root of tail' vs 'tail root'" in text
    assert str(list(CLAMP_AP10K_KEYPOINT_NAMES)) in text
    act = fresh.neck.prompt_encoder.block.mlp.gelu
    assert ('QuickGELU' in text) == (not isinstance(act, QuickGELU))


# ---------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------
def test_not_a_clamp_checkpoint(resnet_case, tmp_path):
    kind, original, _, _ = resnet_case
    dst = str(tmp_path / 'out.pth')
    ours = str(tmp_path / 'ours.pth')
    torch.save(dict(state_dict=original.state_dict()), ours)
    with pytest.raises(
            CLAMPConversionError, match='already in the '
            'promptpose_mm layout') as info:
        convert_clamp_checkpoint(ours, dst, config=tiny_cfg(kind))
    assert ours in str(info.value)

    other = str(tmp_path / 'other.pth')
    torch.save({'conv.weight': torch.zeros(2)}, other)
    with pytest.raises(
            CLAMPConversionError,
            match='is not a checkpoint of '
            'the published CLAMP code') as info:
        convert_clamp_checkpoint(other, dst, config=tiny_cfg(kind))
    assert other in str(info.value) and 'contexts' in str(info.value)

    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'not a checkpoint')
    with pytest.raises(CLAMPConversionError, match='cannot read') as info:
        convert_clamp_checkpoint(str(corrupt), dst, config=tiny_cfg(kind))
    assert str(corrupt) in str(info.value)
    with pytest.raises(CLAMPConversionError, match='not found'):
        convert_clamp_checkpoint(str(tmp_path / 'nope.pth'), dst)
    assert not osp.exists(dst)


def test_shape_mismatch_names_the_key(case):
    _, _, clamp, fresh = case
    broken = dict(clamp)
    broken['keypoint_head.final_layer.weight'] = torch.zeros(17, 5, 1, 1)
    out_ch = fresh.head.final_layer.weight.shape[1]
    with pytest.raises(CLAMPConversionError) as info:
        convert_clamp_state_dict(broken, fresh.state_dict(), source='x.pth')
    message = str(info.value)
    assert message.startswith('x.pth')
    assert ('head.final_layer.weight (from keypoint_head.final_layer.weight)'
            f': checkpoint (17, 5, 1, 1) vs model (17, {out_ch}, 1, 1)'
            in message)


def test_unused_and_missing_keys(case):
    _, _, clamp, fresh = case
    target = fresh.state_dict()
    extra = dict(clamp)
    extra['backbone.fpn1.0.weight'] = torch.zeros(3)
    with pytest.raises(
            CLAMPConversionError,
            match=r'backbone\.fpn1\.0\.weight.*--allow-unused'):
        convert_clamp_state_dict(extra, target)
    result = convert_clamp_state_dict(extra, target, allow_unused=True)
    assert result.unused == ['backbone.fpn1.0.weight']
    assert 'backbone.clip.fpn1.0.weight' not in result.state_dict

    lacking = {key: v for key, v in clamp.items() if key != 'logit_scale'}
    with pytest.raises(
            CLAMPConversionError,
            match=r'head\.semantic_loss_module\.logit_scale.*--allow-missing'):
        convert_clamp_state_dict(lacking, target)
    result = convert_clamp_state_dict(lacking, target, allow_missing=True)
    assert result.missing == ['head.semantic_loss_module.logit_scale']
    assert set(result.state_dict) == set(target) - set(result.missing)


def test_backbone_kind_must_match_config(vit_case, tmp_path):
    _, _, clamp, _ = vit_case
    src = save_clamp(clamp, tmp_path / 'clamp_vit.pth')
    with pytest.raises(
            CLAMPConversionError,
            match='CLAMP vit backbone.*builds CLIPResNet'):
        convert_clamp_checkpoint(
            src, str(tmp_path / 'out.pth'), config=tiny_cfg('resnet'))


def test_cli(resnet_case, tmp_path, capsys):
    _, _, clamp, fresh = resnet_case
    spec = importlib.util.spec_from_file_location('convert_clamp', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    src = save_clamp(clamp, tmp_path / 'clamp.pth')
    dst = str(tmp_path / 'out.pth')
    assert tool.main([src, dst, '--config', TINY]) == 0
    assert 'converted the CLAMP resnet checkpoint' in capsys.readouterr().out
    load_checkpoint(fresh, dst, map_location='cpu', strict=True)

    missing = str(tmp_path / 'missing.pth')
    assert tool.main([missing, dst, '--config', TINY]) == 1
    assert f'error: CLAMP checkpoint not found: {missing}' in (
        capsys.readouterr().err)
