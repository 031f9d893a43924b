"""The CLAMP checkpoint converter: layout, folded formulas, clear errors.

A synthetic CLAMP checkpoint is written from a tiny plugin model by the
inverse mapping below, which spells CLAMP's key names out independently of
the converter's rules (github.com/xuzhang1199/CLAMP, MMPose 0.x).
Converted back, it must give the original model's outputs;
CLAMP's own formulas (its ResNet with the attention pool at every location,
its ViT with the class embedding added twice, the text encoder with the
context after [SOS], the prompt encoder, the context decoder with
separate bias-free q/k/v projections and dropout only after projections,
the score map, the keypoint head and the pixel branch) are computed here
from the CLAMP tensors alone and must equal the converted model's, built
from the config the converter writes, with CLAMP's keypoint words.
"""
import os.path as osp

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpose.apis import init_model
from open_clip.transformer import QuickGELU

import promptpose_mm  # noqa: F401  (registers, allows MMEngine types)
from promptpose_mm.converters import (CLAMP_AP10K_KEYPOINT_NAMES,
                                      CLAMPConversionError, build_target_model,
                                      clamp_keypoint_names,
                                      clamp_keypoint_names_from_meta,
                                      convert_clamp_checkpoint,
                                      convert_clamp_state_dict)
from promptpose_mm.engine import apply_dataset_keypoints
from tests.paths import TINY, load_tool

ATOL = 1e-5


def build(tiny_config, kind: str, seed: int):
    """The tiny config of ``kind`` (conftest's ``tiny_config``), built with
    random weights from ``seed``."""
    torch.manual_seed(seed)
    return build_target_model(tiny_config(kind)).eval()


@torch.no_grad()
def perturbed(model, seed: int = 1):
    """Every weight random and far from its init, so a mis-mapped key
    shows."""
    gen = torch.Generator().manual_seed(seed)
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue
        noise = torch.randn(tensor.shape, generator=gen)
        if name.endswith('running_var'):
            tensor.copy_(0.5 + noise.abs())
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
# the parameters of one layer of CLAMP's (DenseCLIP's) context decoder
_CLAMP_DECODER_LAYER = {
    f'{attn}.{part}'
    for attn in ('self_attn', 'cross_attn')
    for part in ('q_proj.weight', 'k_proj.weight', 'v_proj.weight',
                 'proj.weight', 'proj.bias')
} | {
    f'{part}.{kind}'
    for part in ('norm1', 'norm2', 'norm3', 'mlp.0', 'mlp.3')
    for kind in ('weight', 'bias')
}
# configuration buffers of ours that CLAMP has no counterpart for
_NOT_IN_CLAMP = ('backbone.pos_embed_grid', )


def to_clamp(state, kind: str, text_positions: int) -> dict:
    """A CLAMP ``CLAMP`` model's state dict holding ``state``'s weights."""
    out = {}
    for key, value in state.items():
        if key in _NOT_IN_CLAMP:
            continue
        value = value.clone()
        if key == 'neck.text_encoder.context':
            out['contexts'] = value[None]  # (1, n, W)
        elif key == 'neck.gamma':
            out['gamma'] = value
        elif key == 'head.semantic_loss_module.logit_scale':
            out['logit_scale'] = value
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


def save_clamp(state, path, class_names=None) -> str:
    """As CLAMP's MMCV 1.x runner saves a checkpoint; with ``class_names``
    its meta holds the config text as MMPose 0.x's train.py saves it."""
    meta = dict(epoch=210, iter=1000, mmcv_version='1.3.8')
    if class_names is not None:
        meta['config'] = (
            "model = dict(\n    type='CLAMP',\n    context_length=5,\n"
            f'    class_names={list(class_names)!r},\n'
            "    text_encoder=dict(type='CLIPTextContextEncoder'))\n"
            'data = dict(samples_per_gpu=64)\n')
    torch.save(
        dict(
            meta=meta,
            state_dict=state,
            optimizer=dict(state={}, param_groups=[dict(lr=5e-4)])), str(path))
    return str(path)


def make_case(tiny_config, kind: str):
    """(kind, original model, CLAMP state dict, fresh target model)."""
    original = perturbed(build(tiny_config, kind, seed=0))
    length = original.neck.text_encoder.prompt_length
    clamp = to_clamp(original.state_dict(), kind, length)
    return kind, original, clamp, build(tiny_config, kind, seed=5)


@pytest.fixture(scope='module')
def resnet_case(tiny_config):
    return make_case(tiny_config, 'resnet')


@pytest.fixture(scope='module')
def vit_case(tiny_config):
    return make_case(tiny_config, 'vit')


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
    layer = 'context_decoder.decoder.0.'
    assert {key[len(layer):]
            for key in clamp if key.startswith(layer)} == _CLAMP_DECODER_LAYER
    marker = dict(
        vit='backbone.class_embedding',
        resnet='backbone.attnpool.q_proj.weight')[kind]
    assert marker in clamp
    assert not any(key.startswith(('neck.', 'head.')) for key in clamp)


def test_convert_file_round_trip(case, tmp_path, tiny_config):
    kind, original, clamp, fresh = case
    src = save_clamp(clamp, tmp_path / 'clamp.pth')
    dst = str(tmp_path / 'converted.pth')
    result = convert_clamp_checkpoint(src, dst, config=tiny_config(kind))
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


def _converted(case):
    """The case's CLAMP state dict, and its fresh model loaded (strictly)
    with the conversion of it."""
    _, _, clamp, fresh = case
    result = convert_clamp_state_dict(clamp, fresh.state_dict())
    fresh.load_state_dict(result.state_dict, strict=True)
    return clamp, fresh


@torch.no_grad()
def test_vit_class_embedding_folded(vit_case):
    clamp, fresh = _converted(vit_case)
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


def _clamp_attention(clamp, prefix, query, key, heads, drop=0.0):
    """CLAMP's Attention (separate q/k/v projections, no bias; no dropout
    on the attention probabilities, ``drop`` after the projection)."""
    batch, num, width = query.shape
    head_dim = width // heads

    def project(x, name):
        weight = clamp[f'{prefix}{name}_proj.weight']
        return (x @ weight.T).reshape(batch, x.shape[1], heads, head_dim)

    q, k, v = project(query, 'q'), project(key, 'k'), project(key, 'v')
    attn = torch.einsum('bnkc,bmkc->bknm', q, k) * head_dim**-0.5
    x = torch.einsum('bknm,bmkc->bnkc', attn.softmax(dim=-1), v)
    x = F.linear(
        x.reshape(batch, num, width), clamp[prefix + 'proj.weight'],
        clamp[prefix + 'proj.bias'])
    return F.dropout(x, drop, training=drop > 0)


def _norm(clamp, x, name):
    return F.layer_norm(x, x.shape[-1:], clamp[f'{name}.weight'],
                        clamp[f'{name}.bias'])


def _linear(clamp, x, name):
    return F.linear(x, clamp[f'{name}.weight'], clamp[f'{name}.bias'])


def _clamp_context_decoder(clamp, text, visual, layers, heads, drop=0.0):
    """CLAMP's ContextDecoder.forward; ``drop > 0``: in train mode with that
    dropout (after each attention projection, inside and after the MLP,
    drawn in this order)."""

    def norm(x, name):
        return _norm(clamp, x, name)

    def linear(x, name):
        return _linear(clamp, x, name)

    def dropout(x):
        return F.dropout(x, drop, training=drop > 0)

    pre = 'context_decoder.'
    memory = norm(
        linear(norm(visual, pre + 'memory_proj.0'), pre + 'memory_proj.1'),
        pre + 'memory_proj.2')
    x = linear(norm(text, pre + 'text_proj.0'), pre + 'text_proj.1')
    for index in range(layers):
        layer = f'{pre}decoder.{index}.'
        h = norm(x, layer + 'norm1')
        x = x + _clamp_attention(clamp, layer + 'self_attn.', h, h, heads,
                                 drop)
        x = x + _clamp_attention(clamp, layer + 'cross_attn.',
                                 norm(x, layer + 'norm2'), memory, heads, drop)
        hidden = F.gelu(linear(norm(x, layer + 'norm3'), layer + 'mlp.0'))
        x = x + dropout(linear(dropout(hidden), layer + 'mlp.3'))
    return linear(norm(x, pre + 'out_proj.0'), pre + 'out_proj.1')


def _converted_decoder(case):
    """CLAMP's state dict, the converted context decoder, text and visual
    inputs for it, and its number of heads."""
    clamp, fresh = _converted(case)
    decoder = fresh.neck.context_decoder
    heads = decoder.decoder[0].self_attn.num_heads
    return (clamp, decoder, *_decoder_inputs(fresh), heads)


def _decoder_inputs(fresh):
    gen = torch.Generator().manual_seed(4)
    dim = fresh.neck.embed_dim
    return (torch.randn(2, 17, dim, generator=gen),
            torch.randn(2, 1 + 64, dim, generator=gen))


@torch.no_grad()
def test_context_decoder_equals_clamp_formula(case):
    clamp, decoder, text, visual, heads = _converted_decoder(case)
    expected = _clamp_context_decoder(clamp, text, visual,
                                      len(decoder.decoder), heads)
    torch.testing.assert_close(
        decoder(text, visual), expected, atol=ATOL, rtol=0)


@torch.no_grad()
def test_context_decoder_train_mode_drops_as_clamp(resnet_case):
    """In train mode the same dropout masks (same seed, same order) give
    CLAMP's output: dropout after the projections and in the MLP only, none
    on the attention probabilities."""
    clamp, decoder, text, visual, heads = _converted_decoder(resnet_case)
    decoder.train()
    drops = {m.p for m in decoder.modules() if isinstance(m, torch.nn.Dropout)}
    assert drops == {0.1}
    torch.manual_seed(11)
    actual = decoder(text, visual)
    torch.manual_seed(11)
    expected = _clamp_context_decoder(
        clamp, text, visual, len(decoder.decoder), heads, drop=0.1)
    torch.testing.assert_close(actual, expected, atol=ATOL, rtol=0)
    # the dropout acts (another seed, another output)
    torch.manual_seed(12)
    assert (decoder(text, visual) - actual).abs().max() > 1e-3
    decoder.eval()


# ---------------------------------------------------------------------------
# End to end: the written config, CLAMP's words, CLAMP's formulas
# ---------------------------------------------------------------------------
def _self_attention(seq, heads, in_weight, in_bias, out_prefix, clamp,
                    **kwargs):
    """``F.multi_head_attention_forward`` of sequence-first ``seq`` on
    itself, no dropout, the output projection ``clamp[out_prefix +
    'weight' / 'bias']``; ``kwargs`` go to it (a mask, separate q/k/v)."""
    out, _ = F.multi_head_attention_forward(
        seq,
        seq,
        seq,
        seq.shape[-1],
        heads,
        in_weight,
        in_bias,
        None,
        None,
        False,
        0.0,
        clamp[out_prefix + 'weight'],
        clamp[out_prefix + 'bias'],
        training=False,
        need_weights=False,
        **kwargs)
    return out


def _clip_block(clamp, prefix, x, heads, mask=None):
    """CLIP's ResidualAttentionBlock (QuickGELU) on batch-first ``x``."""
    seq = x.transpose(0, 1)
    normed = _norm(clamp, seq, prefix + 'ln_1')
    attn = _self_attention(
        normed,
        heads,
        clamp[prefix + 'attn.in_proj_weight'],
        clamp[prefix + 'attn.in_proj_bias'],
        prefix + 'attn.out_proj.',
        clamp,
        attn_mask=mask)
    seq = seq + attn
    hidden = _linear(clamp, _norm(clamp, seq, prefix + 'ln_2'),
                     prefix + 'mlp.c_fc')
    seq = seq + _linear(clamp, hidden * torch.sigmoid(1.702 * hidden),
                        prefix + 'mlp.c_proj')
    return seq.transpose(0, 1)


def _blocks(clamp, prefix):
    return sorted({
        int(key[len(prefix):].split('.')[0])
        for key in clamp if key.startswith(prefix)
    })


def _clamp_text(clamp, names, heads):
    """CLIPTextContextEncoder.forward with CLAMP's contexts: (K, D)."""
    contexts = clamp['contexts']  # (1, n, W)
    pos = clamp['text_encoder.positional_embedding']  # (n + N1, W)
    n_ctx = contexts.shape[1]
    tokens = open_clip.tokenize(names, context_length=pos.shape[0] - n_ctx)
    # CLAMP's tokenize refuses names longer than its context_length
    assert open_clip.tokenize(names).argmax(-1).max() < tokens.shape[1]
    embedded = clamp['text_encoder.token_embedding.weight'][tokens]
    num = len(names)
    x = torch.cat(
        [embedded[:, :1],
         contexts.expand(num, -1, -1), embedded[:, 1:]],
        dim=1) + pos
    length = x.shape[1]
    mask = torch.full((length, length), float('-inf')).triu(1)
    prefix = 'text_encoder.transformer.resblocks.'
    for index in _blocks(clamp, prefix):
        x = _clip_block(clamp, f'{prefix}{index}.', x, heads, mask)
    x = _norm(clamp, x, 'text_encoder.ln_final')
    eos = tokens.argmax(dim=-1) + n_ctx
    return x[torch.arange(num), eos] @ clamp['text_encoder.text_projection']


def _bn(clamp, x, name):
    return F.batch_norm(x, clamp[f'{name}.running_mean'],
                        clamp[f'{name}.running_var'], clamp[f'{name}.weight'],
                        clamp[f'{name}.bias'], False, 0.0, 1e-5)


def _clamp_resnet(clamp, image, heads):
    """CLIPResNetWithAttention.forward: layer4's map, global and dense."""
    x = image
    for index, stride in ((1, 2), (2, 1), (3, 1)):
        weight = clamp[f'backbone.conv{index}.weight']
        x = F.relu(
            _bn(clamp, F.conv2d(x, weight, stride=stride, padding=1),
                f'backbone.bn{index}'))
    x = F.avg_pool2d(x, 2)
    for stage, first_stride in ((1, 1), (2, 2), (3, 2), (4, 2)):
        stage_prefix = f'backbone.layer{stage}.'
        for index in _blocks(clamp, stage_prefix):
            pre = f'{stage_prefix}{index}.'
            stride = first_stride if index == 0 else 1
            out = F.relu(
                _bn(clamp, F.conv2d(x, clamp[pre + 'conv1.weight']),
                    pre + 'bn1'))
            out = F.relu(
                _bn(clamp,
                    F.conv2d(out, clamp[pre + 'conv2.weight'],
                             padding=1), pre + 'bn2'))
            if stride > 1:
                out = F.avg_pool2d(out, stride)
            out = _bn(clamp, F.conv2d(out, clamp[pre + 'conv3.weight']),
                      pre + 'bn3')
            identity = x
            if pre + 'downsample.0.weight' in clamp:
                identity = F.avg_pool2d(x, stride) if stride > 1 else x
                identity = _bn(
                    clamp,
                    F.conv2d(identity, clamp[pre + 'downsample.0.weight']),
                    pre + 'downsample.1')
            x = F.relu(out + identity)
    # AttentionPool2d, every location a query
    batch, channels, height, width = x.shape
    seq = x.flatten(2).permute(2, 0, 1)
    seq = torch.cat([seq.mean(dim=0, keepdim=True), seq])
    pos = clamp['backbone.attnpool.positional_embedding']
    side = int((pos.shape[0] - 1)**0.5)
    spatial = F.interpolate(
        pos[1:].reshape(1, side, side, channels).permute(0, 3, 1, 2),
        size=(height, width),
        mode='bilinear')
    spatial = spatial.reshape(channels, height * width).permute(1, 0)
    seq = seq + torch.cat([pos[:1], spatial])[:, None]
    pool = 'backbone.attnpool.'
    out = _self_attention(
        seq,
        heads,
        None,
        torch.cat([clamp[f'{pool}{p}_proj.bias'] for p in 'qkv']),
        pool + 'c_proj.',
        clamp,
        use_separate_proj_weight=True,
        **{f'{p}_proj_weight': clamp[f'{pool}{p}_proj.weight']
           for p in 'qkv'})
    out = out.permute(1, 2, 0)
    return x, out[:, :, 0], out[:, :, 1:].reshape(batch, -1, height, width)


def _clamp_vit(clamp, image, heads):
    """CLIPVisionTransformer.forward (get_embeddings, no FPN): the last
    block's patch map, global and dense."""
    x = _clamp_vit_tokens(clamp, image)
    prefix = 'backbone.transformer.resblocks.'
    for index in _blocks(clamp, prefix):
        x = _clip_block(clamp, f'{prefix}{index}.', x, heads)
    batch = x.shape[0]
    side = int((x.shape[1] - 1)**0.5)
    level = x[:, 1:].transpose(1, 2).reshape(batch, -1, side, side)
    x = _norm(clamp, x, 'backbone.ln_post') @ clamp['backbone.proj']
    dense = x[:, 1:].reshape(batch, side, side, -1).permute(0, 3, 1, 2)
    return level, x[:, 0], dense


def _clamp_heatmap_head(clamp, prefix, x):
    """MMPose 0.x TopdownHeatmapSimpleHead: deconvs (k4, s2), 1x1 conv."""
    index = 0
    while f'{prefix}deconv_layers.{index}.weight' in clamp:
        x = F.conv_transpose2d(
            x,
            clamp[f'{prefix}deconv_layers.{index}.weight'],
            stride=2,
            padding=1)
        x = F.relu(_bn(clamp, x, f'{prefix}deconv_layers.{index + 1}'))
        index += 3
    return F.conv2d(x, clamp[prefix + 'final_layer.weight'],
                    clamp[prefix + 'final_layer.bias'])


@torch.no_grad()
def clamp_forward(clamp, image, names, cfg):
    """CLAMP.forward_test's heatmaps (without flip), its pixel branch on
    the score map, and the score map, from the CLAMP tensors alone."""
    backbone = cfg.model.backbone
    if 'backbone.class_embedding' in clamp:
        heads = backbone.width // backbone.head_width
        level, global_feat, dense = _clamp_vit(clamp, image, heads)
    else:
        heads = backbone.width * 32 // backbone.head_width
        level, global_feat, dense = _clamp_resnet(clamp, image, heads)
    neck = cfg.model.neck
    text = _clamp_text(clamp, names, neck.text_encoder.heads)[None]
    text = _clip_block(clamp, 'prompt_encoder.transformer.resblocks.0.', text,
                       neck.prompt_encoder.num_heads)
    text = _norm(clamp, text, 'prompt_encoder.ln_final')
    batch, channels = dense.shape[:2]
    text = text.expand(batch, -1, -1)
    visual = torch.cat([global_feat[:, :, None],
                        dense.flatten(2)], dim=2).permute(0, 2, 1)
    layers = len(_blocks(clamp, 'context_decoder.decoder.'))
    refine = _clamp_context_decoder(clamp, text, visual, layers,
                                    neck.context_decoder.num_heads)
    prompts = text + clamp['gamma'] * refine
    score_map = torch.einsum('bchw,bkc->bkhw', F.normalize(dense, dim=1),
                             F.normalize(prompts, dim=2))
    fused = torch.cat([level, score_map], dim=1)
    return dict(
        heatmaps=_clamp_heatmap_head(clamp, 'keypoint_head.', fused),
        pixel=_clamp_heatmap_head(clamp, 'upconv_head.', score_map),
        score_map=score_map)


# CLAMP's AP-10K words with one changed, so that words read from the
# checkpoint's meta differ from the fallback
_META_NAMES = ['left eye', 'right eye', 'muzzle'] + list(
    CLAMP_AP10K_KEYPOINT_NAMES[3:])


@pytest.mark.parametrize('kind,meta_names', [('resnet', _META_NAMES),
                                             ('vit', None)])
def test_written_config_reproduces_clamp_end_to_end(kind, meta_names, tmp_path,
                                                    request, tiny_config):
    """As mim test / the inferencer: init_model(written config, converted
    file); its heatmaps are CLAMP's, computed with CLAMP's words."""
    _, original, clamp, _ = request.getfixturevalue(f'{kind}_case')
    src = save_clamp(clamp, tmp_path / 'clamp.pth', class_names=meta_names)
    dst = str(tmp_path / 'converted.pth')
    result = convert_clamp_checkpoint(src, dst, config=tiny_config(kind))
    names = meta_names or list(CLAMP_AP10K_KEYPOINT_NAMES)
    written = str(tmp_path / 'converted.py')
    assert result.config_path == written and osp.isfile(written)
    assert result.keypoint_names == names
    assert 'tail root' in names
    assert 'root of tail' in original.neck.keypoint_names
    meta = torch.load(dst, weights_only=True)['meta']
    assert meta['keypoint_names'] == names
    assert meta['written_config'] == written
    cfg = Config.fromfile(written)
    assert cfg.model.neck.keypoint_names == names
    assert cfg.load_from == dst

    model = init_model(written, dst, device='cpu')
    assert model.neck.keypoint_names == names
    image = _image(seed=6)
    expected = clamp_forward(clamp, image, names, cfg)
    with torch.no_grad():
        heatmaps = model(image, None, mode='tensor')
        feats = model.neck(model.backbone(image))
        pixel = model.head.forward_pixel(feats)
    assert heatmaps.shape == (1, 17, 64, 64)
    torch.testing.assert_close(
        feats.score_map, expected['score_map'], atol=ATOL, rtol=0)
    torch.testing.assert_close(
        heatmaps, expected['heatmaps'], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(pixel, expected['pixel'], atol=1e-4, rtol=1e-4)

    # the words matter: with the config's humanized names the heatmaps
    # are not CLAMP's
    humanized = init_model(
        apply_dataset_keypoints(tiny_config(kind)), dst, device='cpu')
    with torch.no_grad():
        other = humanized(image, None, mode='tensor')
    assert (other - expected['heatmaps']).abs().max() > 1e-3


def test_compatibility_warnings(resnet_case, tmp_path, tiny_config):
    kind, original, clamp, fresh = resnet_case
    src = save_clamp(clamp, tmp_path / 'clamp.pth')
    # the tiny config humanizes AP-10K's names ('root of tail' for CLAMP's
    # 'tail root'): the written config takes CLAMP's words, no warning
    result = convert_clamp_checkpoint(
        src, str(tmp_path / 'out.pth'), config=tiny_config(kind))
    assert result.keypoint_names == list(CLAMP_AP10K_KEYPOINT_NAMES)
    assert not any('prompts differ' in text for text in result.warnings)
    assert any("'tail root' for 'root of tail'" in note
               for note in result.notes)
    act = fresh.neck.prompt_encoder.block.mlp.gelu
    text = ' | '.join(result.warnings)
    assert ('QuickGELU' in text) == (not isinstance(act, QuickGELU))

    # words set explicitly are kept, with a warning naming the difference
    humanized = list(original.neck.keypoint_names)
    result = convert_clamp_checkpoint(
        src,
        str(tmp_path / 'explicit.pth'),
        config=tiny_config(kind),
        cfg_options={'model.neck.keypoint_names': humanized})
    assert result.keypoint_names == humanized
    assert Config.fromfile(result.config_path).model.neck.keypoint_names == (
        humanized)
    text = ' | '.join(result.warnings)
    assert "'root of tail' vs 'tail root'" in text
    assert str(list(CLAMP_AP10K_KEYPOINT_NAMES)) in text


def test_keypoint_names_from_meta_are_parsed_not_run(resnet_case, tmp_path,
                                                     tiny_config):
    text = ("import os\nraise RuntimeError('executed')\n"
            "model = dict(type='CLAMP', class_names=['a b', 'c'])\n")
    assert clamp_keypoint_names_from_meta(dict(config=text)) == ['a b', 'c']
    assert clamp_keypoint_names_from_meta(dict(config='x = (')) is None
    assert clamp_keypoint_names_from_meta({}) is None
    assert clamp_keypoint_names({}, 17) == (list(CLAMP_AP10K_KEYPOINT_NAMES),
                                            "CLAMP's AP-10K configs")
    assert clamp_keypoint_names({}, 9) == (None, '')

    # a CLAMP model of another keypoint count does not fit the config
    kind, _, clamp, _ = resnet_case
    src = save_clamp(clamp, tmp_path / 'clamp.pth', class_names=['a', 'b'])
    with pytest.raises(CLAMPConversionError, match='CLAMP names 2 keypoints'):
        convert_clamp_checkpoint(
            src, str(tmp_path / 'out.pth'), config=tiny_config(kind))


# ---------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------
def test_not_a_clamp_checkpoint(resnet_case, tmp_path, tiny_config):
    kind, original, _, _ = resnet_case
    dst = str(tmp_path / 'out.pth')
    ours = str(tmp_path / 'ours.pth')
    torch.save(dict(state_dict=original.state_dict()), ours)
    with pytest.raises(
            CLAMPConversionError, match='already in the '
            'promptpose_mm layout') as info:
        convert_clamp_checkpoint(ours, dst, config=tiny_config(kind))
    assert ours in str(info.value)

    other = str(tmp_path / 'other.pth')
    torch.save({'conv.weight': torch.zeros(2)}, other)
    with pytest.raises(
            CLAMPConversionError,
            match='is not a checkpoint of '
            'the published CLAMP code') as info:
        convert_clamp_checkpoint(other, dst, config=tiny_config(kind))
    assert other in str(info.value) and 'contexts' in str(info.value)

    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(b'not a checkpoint')
    with pytest.raises(CLAMPConversionError, match='cannot read') as info:
        convert_clamp_checkpoint(str(corrupt), dst, config=tiny_config(kind))
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


def _with_unused_key(clamp):
    return {**clamp, 'backbone.fpn1.0.weight': torch.zeros(3)}


def _without_logit_scale(clamp):
    return {key: v for key, v in clamp.items() if key != 'logit_scale'}


# problem: the change to CLAMP's state dict, the key it lists, the error
KEY_PROBLEMS = {
    'unused': (_with_unused_key, 'backbone.fpn1.0.weight',
               r'backbone\.fpn1\.0\.weight.*--allow-unused'),
    'missing': (_without_logit_scale, 'head.semantic_loss_module.logit_scale',
                r'head\.semantic_loss_module\.logit_scale.*--allow-missing'),
}


@pytest.mark.parametrize('problem', sorted(KEY_PROBLEMS))
def test_unused_and_missing_keys(case, problem):
    """Refused with an error naming the key and the flag; with the flag,
    converted and listed."""
    _, _, clamp, fresh = case
    target = fresh.state_dict()
    change, key, error = KEY_PROBLEMS[problem]
    changed = change(clamp)
    with pytest.raises(CLAMPConversionError, match=error):
        convert_clamp_state_dict(changed, target)
    result = convert_clamp_state_dict(changed, target,
                                      **{f'allow_{problem}': True})
    assert getattr(result, problem) == [key]
    if problem == 'unused':
        assert 'backbone.clip.fpn1.0.weight' not in result.state_dict
    else:
        assert set(result.state_dict) == set(target) - {key}


def test_backbone_kind_must_match_config(vit_case, tmp_path, tiny_config):
    _, _, clamp, _ = vit_case
    src = save_clamp(clamp, tmp_path / 'clamp_vit.pth')
    with pytest.raises(
            CLAMPConversionError,
            match='CLAMP vit backbone.*builds CLIPResNet'):
        convert_clamp_checkpoint(
            src, str(tmp_path / 'out.pth'), config=tiny_config('resnet'))


def test_cli(resnet_case, tmp_path, capsys):
    _, _, clamp, fresh = resnet_case
    tool = load_tool('model_converters/convert_clamp_checkpoint.py')
    src = save_clamp(clamp, tmp_path / 'clamp.pth')
    dst = str(tmp_path / 'out.pth')
    assert tool.main([src, dst, '--config', TINY]) == 0
    out = capsys.readouterr().out
    assert 'converted the CLAMP resnet checkpoint' in out
    written = str(tmp_path / 'out.py')
    assert f'mim test promptpose_mm {written} --checkpoint {dst}' in out
    assert Config.fromfile(written).model.neck.keypoint_names == list(
        CLAMP_AP10K_KEYPOINT_NAMES)
    load_checkpoint(fresh, dst, map_location='cpu', strict=True)
    other = str(tmp_path / 'named.py')
    assert tool.main([src, dst, '--config', TINY, '--out-config', other]) == 0
    assert other in capsys.readouterr().out and osp.isfile(other)

    missing = str(tmp_path / 'missing.pth')
    assert tool.main([missing, dst, '--config', TINY]) == 1
    assert f'error: CLAMP checkpoint not found: {missing}' in (
        capsys.readouterr().err)
