"""CLIP visual backbones: shapes, CLIP weight loading, freezing, drop path."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from promptpose_mm.models.backbones import (CLIPResNet, CLIPVisionTransformer,
                                            DropPathBlock, TokenDropPath)
from promptpose_mm.models.clip import (CLIPWeightsError, infer_square_grid,
                                       resize_pos_embed, sub_state_dict)
from promptpose_mm.testing import (TINY_CLIP_SPECS, build_tiny_clip,
                                   save_clip_archive, save_clip_state_dict)

# Tracing the tiny models into TorchScript archives warns; that is expected.
pytestmark = pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning')

KINDS = ('resnet', 'vit')
# Where each backbone keeps its positional embedding inside ``.clip``.
POS_KEYS = dict(
    resnet='attnpool.positional_embedding', vit='positional_embedding')
# The tiny checkpoints are "trained" at 64x64: grids 2x2 (stride 32) and
# 4x4 (patch 16).
TRAIN_GRIDS = dict(resnet=(2, 2), vit=(4, 4))


def tiny_backbone(kind, input_size=(64, 64), **kwargs):
    """A backbone with the architecture of ``build_tiny_clip(kind)``;
    ``kwargs`` add to it or override it."""
    spec = TINY_CLIP_SPECS[kind]
    arch = {k: v for k, v in spec['vision'].items() if k != 'image_size'}
    arch.update(embed_dim=spec['embed_dim'], input_size=input_size)
    if kind == 'resnet':
        return CLIPResNet(**arch, **kwargs)
    return CLIPVisionTransformer(**{'out_indices': (0, 1), **arch, **kwargs})


def pretrained(source):
    return dict(type='PretrainedCLIP', checkpoint=str(source))


@pytest.fixture(scope='module')
def clip_files(tmp_path_factory):
    """Per kind: the tiny open_clip model and its archive / state dict."""
    folder = tmp_path_factory.mktemp('clip')
    files = {}
    for kind in KINDS:
        model = build_tiny_clip(kind, seed=1)
        files[kind] = dict(
            model=model,
            archive=save_clip_archive(model, str(folder / f'{kind}.pt')),
            state=save_clip_state_dict(model,
                                       str(folder / f'{kind}_state.pth')))
    return files


# ---------------------------------------------------------------------------
# Positional embeddings
# ---------------------------------------------------------------------------
def keys_cubic(distance, a=-0.75):
    """The bicubic convolution kernel (Keys, a=-0.75) PyTorch uses."""
    d = abs(distance)
    if d <= 1:
        return ((a + 2) * d - (a + 3)) * d * d + 1
    if d < 2:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return 0.0


def bicubic_1d(values, out_len):
    """Resize a list by hand like ``interpolate(bicubic, align_corners=
    False)``: half-pixel centres, border samples repeated."""
    scale = len(values) / out_len
    out = []
    for index in range(out_len):
        src = (index + 0.5) * scale - 0.5
        floor = math.floor(src)
        frac = src - floor
        out.append(
            sum(values[min(max(floor + k, 0),
                           len(values) - 1)] * keys_cubic(frac - k)
                for k in (-1, 0, 1, 2)))
    return out


def bilinear_1d(values, out_len):
    """Resize a list by hand like ``interpolate(bilinear, align_corners=
    False)``: half-pixel centres, clamped at the borders."""
    scale = len(values) / out_len
    out = []
    for index in range(out_len):
        src = min(max((index + 0.5) * scale - 0.5, 0.0), len(values) - 1)
        low = math.floor(src)
        high = min(low + 1, len(values) - 1)
        frac = src - low
        out.append(values[low] * (1 - frac) + values[high] * frac)
    return out


def torch_bilinear(pos, src_grid, dst_grid):
    """CLAMP's resize: ``F.interpolate(..., mode='bilinear')`` (so
    ``align_corners=False``) of the spatial part, class token kept."""
    (src_h, src_w), (dst_h, dst_w) = src_grid, dst_grid
    channels = pos.shape[1]
    spatial = pos[1:].reshape(1, src_h, src_w, channels).permute(0, 3, 1, 2)
    spatial = F.interpolate(
        spatial, size=(dst_h, dst_w), mode='bilinear', align_corners=False)
    spatial = spatial.reshape(channels, dst_h * dst_w).permute(1, 0)
    return torch.cat([pos[:1], spatial])


def test_resize_pos_embed_identity_returns_input():
    pos = torch.randn(1 + 6 * 8, 5)
    assert resize_pos_embed(pos, (6, 8), (6, 8)) is pos
    # 16 positions: the 4x4 source grid is inferred.
    square = pos[:17]
    assert resize_pos_embed(square, None, (4, 4)) is square


def test_resize_pos_embed_known_bilinear_values():
    # One row [0, 1] widened to 4 cells, class token 7 kept. By hand:
    # cells sample x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped).
    pos = torch.tensor([[7.0], [0.0], [1.0]])
    out = resize_pos_embed(pos, (1, 2), (1, 4))
    assert out.shape == (5, 1)
    assert out[0, 0] == 7.0
    assert out[1:, 0].tolist() == pytest.approx([0.0, 0.25, 0.75, 1.0],
                                                abs=1e-7)
    assert bilinear_1d([0.0, 1.0], 4) == pytest.approx([0.0, 0.25, 0.75, 1.0],
                                                       abs=1e-7)
    # 2x2 -> 3x3 by hand: corners kept, centre the mean, edges midpoints.
    pos = torch.tensor([[0.0], [0.0], [4.0], [8.0], [12.0]])
    out = resize_pos_embed(pos, (2, 2), (3, 3))[1:, 0].reshape(3, 3)
    # Centres at 2/3 * (i + 0.5) - 0.5 = -1/6 (clamped), 1/2, 7/6 (clamped).
    assert out.tolist() == [
        pytest.approx(row, abs=1e-6)
        for row in ([0, 2, 4], [4, 6, 8], [8, 10, 12])
    ]


@pytest.mark.parametrize('src_grid, dst_grid', [((7, 7), (8, 8)),
                                                ((14, 14), (16, 16)),
                                                ((7, 7), (8, 6)),
                                                ((14, 14), (16, 12)),
                                                ((8, 6), (8, 8))])
def test_resize_pos_embed_matches_clamp_bilinear(src_grid, dst_grid):
    """RN50 7x7 -> 8x8, ViT 14x14 -> 16x16 and non-square
    grids resize as CLAMP's ``F.interpolate(mode='bilinear')``, not as the
    bicubic resize (which differs on the same grid)."""
    torch.manual_seed(0)
    pos = torch.randn(1 + src_grid[0] * src_grid[1], 6)
    out = resize_pos_embed(pos, src_grid, dst_grid)
    torch.testing.assert_close(
        out, torch_bilinear(pos, src_grid, dst_grid), atol=1e-6, rtol=0)
    bicubic = resize_pos_embed(pos, src_grid, dst_grid, mode='bicubic')
    assert (bicubic - out).abs().max() > 1e-2
    # The separable hand computation on a known grid: value = row * 10 + col.
    grid = torch.tensor([[10.0 * i + j for j in range(src_grid[1])]
                         for i in range(src_grid[0])])
    pos = torch.cat([torch.zeros(1), grid.reshape(-1)])[:, None]
    out = resize_pos_embed(pos, src_grid, dst_grid)[1:, 0]
    rows = bilinear_1d([10.0 * i for i in range(src_grid[0])], dst_grid[0])
    cols = bilinear_1d([float(j) for j in range(src_grid[1])], dst_grid[1])
    expected = [r + c for r in rows for c in cols]
    assert out.tolist() == pytest.approx(expected, rel=1e-6, abs=1e-5)


def test_resize_pos_embed_bicubic_option_known_values():
    # One row [0, 1] widened to 4 cells, class token 7 kept.
    pos = torch.tensor([[7.0], [0.0], [1.0]])
    out = resize_pos_embed(pos, (1, 2), (1, 4), mode='bicubic')
    assert out.shape == (5, 1)
    assert out[0, 0] == 7.0
    # By hand: cell 0 samples x = -0.25, weights w(1.75), w(0.75), w(0.25)
    # on the repeated left value 0 and w(1.25) = -0.10546875 on 1.
    assert out[1, 0].item() == pytest.approx(-0.10546875, abs=1e-7)
    expected = bicubic_1d([0.0, 1.0], 4)
    assert out[1:, 0].tolist() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(
        [-0.10546875, 0.2265625, 0.7734375, 1.10546875], abs=1e-7)


def test_resize_pos_embed_non_square_both_ways():
    torch.manual_seed(0)
    pos = torch.randn(1 + 8 * 6, 3)
    square = resize_pos_embed(pos, (8, 6), (8, 8))
    assert square.shape == (65, 3)
    assert torch.equal(square[0], pos[0])
    back = resize_pos_embed(square, (8, 8), (8, 6))
    assert back.shape == (49, 3)
    # Separable: a map constant along h resizes like its 1-D row.
    row = [0.0, 1.0, 4.0, 2.0, -1.0, 3.0]
    pos = torch.tensor([[0.0]] + [[v] for v in row] * 8)
    out = resize_pos_embed(pos, (8, 6), (16, 9)).reshape(-1)[1:]
    out = out.reshape(16, 9)
    for line in out:
        assert line.tolist() == pytest.approx(bilinear_1d(row, 9), abs=1e-5)
    out = resize_pos_embed(pos, (8, 6), (16, 9), mode='bicubic')
    for line in out.reshape(-1)[1:].reshape(16, 9):
        assert line.tolist() == pytest.approx(bicubic_1d(row, 9), abs=1e-5)


def test_resize_pos_embed_errors():
    assert infer_square_grid(49) == (7, 7)
    with pytest.raises(ValueError, match='not a square number.*src_grid'):
        resize_pos_embed(torch.zeros(1 + 48, 4), None, (8, 8))
    with pytest.raises(ValueError, match='48 spatial positions'):
        resize_pos_embed(torch.zeros(1 + 48, 4), (7, 7), (8, 8))
    with pytest.raises(ValueError, match='mode must be one of'):
        resize_pos_embed(torch.zeros(1 + 49, 4), (7, 7), (8, 8), 'nearest')


# ---------------------------------------------------------------------------
# Output shapes
# ---------------------------------------------------------------------------
# (width, height), with_clip_space
SHAPE_CASES = [(size, clip_space) for size in [(256, 256), (192, 256)]
               for clip_space in (True, False)]


def _run_tiny(kind, input_size, with_clip_space):
    """A tiny backbone built for ``input_size``, and its outputs on a batch
    of two images of that size."""
    width, height = input_size
    backbone = tiny_backbone(
        kind, input_size, with_clip_space=with_clip_space).eval()
    with torch.no_grad():
        return backbone, backbone(torch.randn(2, 3, height, width))


@pytest.mark.parametrize('input_size,with_clip_space', SHAPE_CASES)
def test_resnet_shapes(input_size, with_clip_space):
    width, height = input_size
    backbone, outs = _run_tiny('resnet', input_size, with_clip_space)
    assert len(outs) == 4 + 2 * with_clip_space
    for index, level in enumerate(outs[:4]):
        stride = 4 * 2**index
        assert level.shape == (2, 8 * 4 * 2**index, height // stride,
                               width // stride)
    assert backbone.out_channels == (32, 64, 128, 256)
    if with_clip_space:
        assert outs[4].shape == (2, 32, height // 32, width // 32)
        assert outs[5].shape == (2, 32)
    else:
        assert not any('attnpool' in key for key in backbone.state_dict())


@pytest.mark.parametrize('input_size,with_clip_space', SHAPE_CASES)
def test_vit_shapes(input_size, with_clip_space):
    width, height = input_size
    backbone, outs = _run_tiny('vit', input_size, with_clip_space)
    grid = (height // 16, width // 16)
    assert backbone.clip.positional_embedding.shape == (1 + grid[0] * grid[1],
                                                        32)
    assert [out.shape for out in outs[:2]] == [(2, 32, *grid)] * 2
    if with_clip_space:
        assert len(outs) == 4
        assert outs[2].shape == (2, 32, *grid)
        assert outs[3].shape == (2, 32)
    else:
        assert len(outs) == 2
        keys = backbone.clip.state_dict()
        assert 'proj' not in keys and 'ln_post.weight' not in keys


def test_out_indices_select_levels():
    backbone = tiny_backbone(
        'resnet', out_indices=(-1, 1), with_clip_space=False).eval()
    assert backbone.out_indices == (3, 1)
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert [out.shape[1] for out in outs] == [256, 64]


def test_bad_sizes_raise_clear_errors():
    with pytest.raises(ValueError, match='multiples of the stride 32'):
        tiny_backbone('resnet', input_size=(200, 256))
    with pytest.raises(ValueError, match=r'out_indices .* \[-2, 2\)'):
        tiny_backbone('vit', out_indices=(3, ))
    backbone = tiny_backbone('vit')
    with pytest.raises(ValueError, match='multiples of 16'):
        backbone(torch.randn(1, 3, 64, 60))


def test_registered_in_mmpose():
    from mmpose.registry import MODELS
    spec = TINY_CLIP_SPECS['resnet']
    backbone = MODELS.build(
        dict(
            type='CLIPResNet',
            layers=(1, 1, 1, 1),
            width=8,
            head_width=16,
            embed_dim=spec['embed_dim']))
    assert isinstance(backbone, CLIPResNet)
    assert MODELS.get('CLIPVisionTransformer') is CLIPVisionTransformer


def _built_and_resized(kind, resize):
    """A backbone built for 64x64 and one built for 96x128 holding its
    weights with the positional embedding resized by ``resize(embedding,
    grid, new grid)``; both run on a 96x128 image."""
    built = tiny_backbone(kind, (64, 64)).eval()
    for_size = tiny_backbone(kind, (96, 128)).eval()
    state = built.state_dict()
    key = 'clip.' + POS_KEYS[kind]
    grid = (128 // built.stride, 96 // built.stride)
    state[key] = resize(state[key], built.grid, grid)
    for_size.load_state_dict(state)
    image = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        outs = built(image), for_size(image)
    return built, for_size, state, key, grid, image, outs


@pytest.mark.parametrize('kind', KINDS)
def test_other_input_size_resizes_pos_embed_on_the_fly(kind):
    *_, (on_the_fly, stored) = _built_and_resized(kind, resize_pos_embed)
    for a, b in zip(on_the_fly, stored):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('kind', KINDS)
def test_run_time_pos_embed_resize_is_bilinear(kind):
    """At run time (an input size other than the built one) the embedding
    is resized as CLAMP's forward does: ``F.interpolate(mode='bilinear')``
    from the stored grid, written out here and loaded into a backbone
    built for that size."""
    torch.manual_seed(0)
    built, for_size, state, key, grid, image, (on_the_fly, stored) = \
        _built_and_resized(kind, torch_bilinear)
    for a, b in zip(on_the_fly, stored):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    # The embedding the forward pass uses, and how far the bicubic resize
    # (the former one) is from it.
    source = built.state_dict()[key]
    used = built.pos_embed_for(grid).detach()
    torch.testing.assert_close(
        used, torch_bilinear(source, built.grid, grid), atol=1e-7, rtol=0)
    bicubic = resize_pos_embed(source, built.grid, grid, mode='bicubic')
    assert (bicubic - used).abs().max() > 1e-2
    state[key] = bicubic
    for_size.load_state_dict(state)
    with torch.no_grad():
        bicubic_outs = for_size(image)
    # The dense map (only the attention pool sees the embedding in the
    # ResNet, where it changes the outputs least).
    assert (bicubic_outs[-2] - on_the_fly[-2]).abs().max() > 1e-4


# ---------------------------------------------------------------------------
# Loading CLIP weights
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('fmt', ['archive', 'state'])
def test_load_clip_matches_open_clip(clip_files, kind, fmt):
    model = clip_files[kind]['model']
    backbone = tiny_backbone(
        kind, init_cfg=pretrained(clip_files[kind][fmt])).eval()
    backbone.init_weights()
    expected = sub_state_dict(model.state_dict(), 'visual.')
    loaded = backbone.clip.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        outs = backbone(images)
        reference = model.encode_image(images)
        visual = model.visual(images)
    torch.testing.assert_close(outs[-1], reference, atol=1e-5, rtol=0)
    # The global token equals open_clip's bit for bit at this resolution.
    assert torch.equal(outs[-1], visual)


def test_resnet_dense_tokens_are_the_pool_at_every_location(clip_files):
    """A dense token equals the pool's output when its cell is the query.

    Checked by hand for cell (0, 1): attention of that query over all
    tokens with the pool's projections, then ``c_proj``.
    """
    backbone = tiny_backbone(
        'resnet', init_cfg=pretrained(clip_files['resnet']['state'])).eval()
    backbone.init_weights()
    pool = backbone.clip.attnpool
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        *_, feat, dense, _ = backbone(images)
        tokens = feat.flatten(2)[0].t()  # (4, C)
        tokens = torch.cat([tokens.mean(0, keepdim=True), tokens])
        tokens = tokens + pool.positional_embedding
        heads = pool.num_heads
        query = pool.q_proj(tokens[2]).reshape(heads, -1)
        keys = pool.k_proj(tokens).reshape(5, heads, -1)
        values = pool.v_proj(tokens).reshape(5, heads, -1)
        scale = query.shape[-1]**-0.5
        attn = torch.einsum('hc,lhc->hl', query * scale, keys).softmax(-1)
        out = pool.c_proj(torch.einsum('hl,lhc->hc', attn, values).reshape(-1))
    torch.testing.assert_close(dense[0, :, 0, 1], out, atol=1e-5, rtol=0)


@pytest.mark.parametrize('kind', KINDS)
def test_load_into_256_resizes_pos_embed(clip_files, kind):
    source = clip_files[kind]['model'].state_dict()['visual.' + POS_KEYS[kind]]
    backbone = tiny_backbone(
        kind, (256, 256), init_cfg=pretrained(clip_files[kind]['archive']))
    backbone.init_weights()
    grid = backbone.grid
    assert grid == ((8, 8) if kind == 'resnet' else (16, 16))
    loaded = backbone.clip.get_parameter(POS_KEYS[kind])
    torch.testing.assert_close(
        loaded, resize_pos_embed(source, TRAIN_GRIDS[kind], grid))
    # As CLAMP resizes at load time: F.interpolate(mode='bilinear').
    torch.testing.assert_close(
        loaded,
        torch_bilinear(source, TRAIN_GRIDS[kind], grid),
        atol=1e-6,
        rtol=0)
    assert torch.equal(loaded[0], source[0])
    with torch.no_grad():
        outs = backbone.eval()(torch.randn(1, 3, 256, 256))
    assert outs[-2].shape[-2:] == grid


def test_load_into_non_square_resnet(clip_files):
    backbone = tiny_backbone(
        'resnet', (192, 256),
        init_cfg=pretrained(clip_files['resnet']['state']))
    backbone.init_weights()
    assert backbone.clip.attnpool.positional_embedding.shape == (1 + 48, 256)
    state = clip_files['resnet']['model'].state_dict()
    source = state['visual.attnpool.positional_embedding']
    torch.testing.assert_close(
        backbone.clip.attnpool.positional_embedding.detach(),
        torch_bilinear(source, (2, 2), (8, 6)),
        atol=1e-6,
        rtol=0)
    outs = backbone.eval()(torch.randn(1, 3, 256, 192))
    assert outs[-2].shape == (1, 32, 8, 6)


def test_load_without_clip_space_skips_attnpool(clip_files):
    backbone = tiny_backbone(
        'resnet',
        with_clip_space=False,
        init_cfg=pretrained(clip_files['resnet']['archive']))
    backbone.init_weights()
    expected = sub_state_dict(clip_files['resnet']['model'].state_dict(),
                              'visual.')
    assert torch.equal(backbone.clip.layer4[0].conv1.weight,
                       expected['layer4.0.conv1.weight'])


def test_init_cfg_list_with_clip_pretrained(clip_files):
    init_cfg = [
        dict(type='Constant', val=0.5, layer='Conv2d'),
        pretrained(clip_files['vit']['state'])
    ]
    backbone = tiny_backbone('vit', init_cfg=init_cfg)
    backbone.init_weights()
    expected = clip_files['vit']['model'].state_dict()['visual.conv1.weight']
    assert torch.equal(backbone.clip.conv1.weight, expected)
    assert backbone.is_init


def test_missing_file_names_path(tmp_path):
    path = tmp_path / 'nowhere' / 'RN50.pt'
    backbone = tiny_backbone('resnet', init_cfg=pretrained(path))
    with pytest.raises(CLIPWeightsError, match=str(path)):
        backbone.init_weights()


def test_non_clip_state_dict_raises(tmp_path):
    path = tmp_path / 'linear.pth'
    torch.save(nn.Linear(3, 2).state_dict(), path)
    backbone = tiny_backbone('vit', init_cfg=pretrained(path))
    with pytest.raises(
            CLIPWeightsError, match='not a CLIP model.*prefix=.backbone'):
        backbone.init_weights()


def test_wrong_tower_lists_missing_and_unexpected_keys(clip_files):
    backbone = tiny_backbone(
        'vit', init_cfg=pretrained(clip_files['resnet']['state']))
    with pytest.raises(CLIPWeightsError) as info:
        backbone.init_weights()
    message = str(info.value)
    assert clip_files['resnet']['state'] in message
    assert "missing keys: ['class_embedding'" in message
    assert 'attnpool.c_proj.bias' in message  # an unexpected key


def test_wrong_width_lists_shape_mismatches(clip_files):
    backbone = CLIPResNet(
        layers=(1, 1, 1, 1),
        width=16,
        head_width=16,
        embed_dim=32,
        input_size=(64, 64),
        init_cfg=pretrained(clip_files['resnet']['state']))
    with pytest.raises(CLIPWeightsError, match=r'conv1.weight: checkpoint'):
        backbone.init_weights()


def test_backbone_prefix_defers_to_mmengine(tmp_path):
    source = tiny_backbone('vit')
    path = tmp_path / 'pose.pth'
    torch.save(
        dict(state_dict={
            'backbone.' + key: value
            for key, value in source.state_dict().items()
        }), path)
    backbone = tiny_backbone(
        'vit',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    backbone.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key


# ---------------------------------------------------------------------------
# Training behaviour
# ---------------------------------------------------------------------------
def test_resnet_frozen_stages_and_norm_eval():
    backbone = tiny_backbone('resnet', frozen_stages=1)
    clip = backbone.clip
    # Frozen on construction already (as mmpose's ResNet), before train().
    assert not clip.conv1.weight.requires_grad
    assert not clip.layer1[0].conv1.weight.requires_grad
    assert clip.layer2[0].conv1.weight.requires_grad
    backbone.train()
    assert not clip.bn1.training and not clip.layer1[0].bn1.training
    assert clip.layer2[0].bn1.training and clip.attnpool.training
    outs = backbone(torch.randn(2, 3, 64, 64))
    sum(out.sum() for out in outs).backward()
    for name, param in clip.named_parameters():
        frozen = name.startswith(
            ('conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3', 'layer1.'))
        assert param.requires_grad is not frozen, name
        assert (param.grad is None) is frozen, name
    stats = clip.layer1[0].bn1.running_mean.clone()
    backbone(torch.randn(2, 3, 64, 64))
    assert torch.equal(clip.layer1[0].bn1.running_mean, stats)

    backbone = tiny_backbone('resnet', norm_eval=True).train()
    assert backbone.training and backbone.clip.attnpool.training
    assert not any(module.training for module in backbone.modules()
                   if isinstance(module, nn.BatchNorm2d))


def test_frozen_all_stages_freezes_clip_space_head():
    backbone = tiny_backbone('resnet', frozen_stages=4).train()
    assert not any(param.requires_grad for param in backbone.parameters())
    backbone = tiny_backbone('vit', frozen_stages=2).train()
    assert not any(param.requires_grad for param in backbone.parameters())


def test_vit_frozen_stages_gradients():
    backbone = tiny_backbone('vit', frozen_stages=1).train()
    outs = backbone(torch.randn(1, 3, 64, 64))
    sum(out.sum() for out in outs).backward()
    for name, param in backbone.clip.named_parameters():
        frozen = name.startswith(
            ('conv1', 'class_embedding', 'positional_embedding', 'ln_pre',
             'transformer.resblocks.0.'))
        assert (param.grad is None) is frozen, name


def test_vit_drop_path_train_random_eval_deterministic():
    torch.manual_seed(0)
    backbone = tiny_backbone('vit', drop_path_rate=0.5)
    plain = tiny_backbone('vit')
    # Same state dict keys: the drop-path wrapper keeps open_clip's names.
    plain.load_state_dict(backbone.state_dict())
    images = torch.randn(4, 3, 64, 64)
    backbone.train()
    first, second = backbone(images), backbone(images)
    assert not torch.allclose(first[-1], second[-1])
    backbone.eval()
    plain.eval()
    with torch.no_grad():
        first, second, reference = (backbone(images), backbone(images),
                                    plain(images))
    for a, b, c in zip(first, second, reference):
        assert torch.equal(a, b)
        torch.testing.assert_close(a, c)


def test_token_drop_path_one_mask_over_positions_shared_by_batch():
    """CLAMP's drop path (timm's on sequence-first tokens)
    draws one keep/drop value per token position, the same for every
    sample; kept entries are scaled by 1 / (1 - p)."""
    torch.manual_seed(0)
    drop = TokenDropPath(0.5).train()
    assert drop.mode == 'token'
    x = torch.ones(6, 4000, 3)
    out = drop(x)
    assert set(out.unique().tolist()) == {0.0, 2.0}
    # Identical across the batch and the channels...
    assert torch.equal(out, out[:1].expand_as(out))
    assert torch.equal(out, out[..., :1].expand_as(out))
    # ...varying over the positions: about half of them dropped (binomial
    # standard deviation 0.008).
    dropped = (out[0, :, 0] == 0).float().mean().item()
    assert dropped == pytest.approx(0.5, abs=0.04)
    # Rate 0.2: a fifth dropped; the expectation is kept.
    out = TokenDropPath(0.2).train()(torch.ones(2, 20000, 1))
    assert (out[0] == 0).float().mean().item() == pytest.approx(0.2, abs=0.02)
    assert out.mean().item() == pytest.approx(1.0, abs=0.03)
    # Eval mode: the identity.
    x = torch.randn(3, 7, 5)
    assert drop.eval()(x) is x


def test_sample_drop_path_option_one_mask_per_sample():
    torch.manual_seed(0)
    drop = TokenDropPath(0.5, mode='sample').train()
    out = drop(torch.ones(4000, 6, 3))
    assert set(out.unique().tolist()) == {0.0, 2.0}
    # Constant over the positions of a sample, varying across samples.
    assert torch.equal(out, out[:, :1, :1].expand_as(out))
    dropped = (out[:, 0, 0] == 0).float().mean().item()
    assert dropped == pytest.approx(0.5, abs=0.04)
    with pytest.raises(ValueError, match='mode must be one of'):
        TokenDropPath(0.1, mode='batch')


def test_vit_drop_path_rates_are_linspace():
    """ViT-B/16 as trained by CLAMP: 12 blocks, rates linspace(0, 0.4, 12)
    in token mode by default; ``drop_path_mode='sample'`` per sample."""
    expected = torch.linspace(0, 0.4, 12).tolist()
    for mode in ('token', 'sample'):
        kwargs = {} if mode == 'token' else dict(drop_path_mode=mode)
        backbone = tiny_backbone(
            'vit', (32, 32), layers=12, drop_path_rate=0.4, **kwargs)
        blocks = backbone.clip.transformer.resblocks
        assert all(isinstance(block, DropPathBlock) for block in blocks)
        rates = [block.drop_path.drop_prob for block in blocks]
        assert rates == pytest.approx(expected, abs=1e-7)
        assert rates[-1] == pytest.approx(0.4)
        assert rates[1] == pytest.approx(0.4 / 11)
        assert {block.drop_path.mode for block in blocks} == {mode}
    with pytest.raises(ValueError, match='mode must be one of'):
        tiny_backbone('vit', drop_path_rate=0.1, drop_path_mode='row')


@pytest.mark.parametrize('mode', ['token', 'sample'])
def test_vit_drop_path_masks_through_the_backbone(mode):
    """Sixteen copies of one image through a backbone with a high rate in
    train mode: with CLAMP's shared mask every copy gives the same output;
    with per-sample masks they differ. In a block, the positions where
    both branches are dropped come out unchanged: in token mode the same
    positions for every sample, some but not all of them."""
    torch.manual_seed(0)
    backbone = tiny_backbone(
        'vit', (64, 64), drop_path_rate=0.6, drop_path_mode=mode).train()
    images = torch.randn(1, 3, 64, 64).expand(16, -1, -1, -1)
    with torch.no_grad():
        outs = backbone(images)
    spread = max((out - out[:1]).abs().max().item() for out in outs)
    if mode == 'token':
        assert spread < 1e-5
    else:
        assert spread > 1e-2

    block = backbone.clip.transformer.resblocks[-1]
    assert block.drop_path.drop_prob == pytest.approx(0.6)
    tokens = torch.randn(1, 400, 32).expand(4, -1, -1)
    with torch.no_grad():
        out = block(tokens)
    unchanged = (out == tokens).all(dim=-1)  # (B, L)
    if mode == 'token':
        assert torch.equal(unchanged, unchanged[:1].expand_as(unchanged))
        # Both branches dropped: 0.6 ** 2 = 0.36 of the positions.
        fraction = unchanged[0].float().mean().item()
        assert fraction == pytest.approx(0.36, abs=0.1)
    else:
        # Whole samples unchanged or changed.
        assert torch.equal(unchanged, unchanged[:, :1].expand_as(unchanged))


# ---------------------------------------------------------------------------
# Full-size shape checks (random weights)
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_full_size_rn50_shapes():
    backbone = CLIPResNet().eval()
    with torch.no_grad():
        outs = backbone(torch.randn(1, 3, 256, 256))
    assert [tuple(out.shape) for out in outs] == [(1, 256, 64, 64),
                                                  (1, 512, 32, 32),
                                                  (1, 1024, 16, 16),
                                                  (1, 2048, 8, 8),
                                                  (1, 1024, 8, 8), (1, 1024)]


@pytest.mark.slow
def test_full_size_vit_b16_shapes():
    backbone = CLIPVisionTransformer().eval()
    assert len(backbone.clip.transformer.resblocks) == 12
    assert backbone.clip.transformer.resblocks[0].attn.num_heads == 12
    with torch.no_grad():
        outs = backbone(torch.randn(1, 3, 256, 256))
    assert [tuple(out.shape)
            for out in outs] == [(1, 768, 16, 16)] * 4 + [(1, 512, 16, 16),
                                                          (1, 512)]
