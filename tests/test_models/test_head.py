"""Tests of PromptPoseHead: shapes, losses, gradients, errors, flip test."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

from promptpose_mm.models import PromptPoseFeatures
from promptpose_mm.models.heads import PromptPoseHead
from promptpose_mm.models.utils import sample_keypoint_features

IN_CHANNELS, K, DIM = 16, 5, 12
INPUT_SIZE = (128, 128)
FLIP_INDICES = [0, 2, 1, 4, 3]


def _head(**kwargs):
    cfg = dict(
        type='PromptPoseHead',
        in_channels=IN_CHANNELS,
        out_channels=K,
        deconv_out_channels=(8, 8),
        deconv_kernel_sizes=(4, 4),
        decoder=dict(
            type='MSRAHeatmap',
            input_size=INPUT_SIZE,
            heatmap_size=(32, 32),
            sigma=2))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _feats(batch=2, seed=0, num_maps=K, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    tensors = [
        torch.randn(batch, IN_CHANNELS, 8, 8, generator=gen),
        torch.randn(batch, num_maps, 8, 8, generator=gen),
        torch.randn(batch, DIM, 8, 8, generator=gen),
        torch.randn(batch, num_maps, DIM, generator=gen),
    ]
    for t in tensors:
        t.requires_grad_(requires_grad)
    visual, score_map, dense, text = tensors
    return PromptPoseFeatures((visual, ), score_map, dense, text)


def _samples(batch=2, transformed=True):
    gen = np.random.default_rng(0)
    samples = []
    for b in range(batch):
        sample = PoseDataSample()
        sample.gt_fields = PixelData(
            heatmaps=torch.from_numpy(gen.random((K, 32, 32))).float())
        weights = np.ones((1, K), dtype=np.float32)
        weights[0, b] = 0  # one invisible keypoint per sample
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=torch.from_numpy(weights))
        keypoints = gen.uniform(0, 127, (1, K, 2)).astype(np.float32)
        keypoints[0, 4] = (130.0, 10.0)  # outside the crop
        instances = InstanceData(
            bboxes=np.array([[0, 0, 128, 128]], dtype=np.float32),
            bbox_scales=np.array([[128, 128]], dtype=np.float32),
            bbox_centers=np.array([[64, 64]], dtype=np.float32))
        if transformed:
            instances.transformed_keypoints = keypoints
        sample.gt_instances = instances
        sample.set_metainfo(
            dict(
                input_size=INPUT_SIZE,
                flip_indices=FLIP_INDICES,
                input_center=np.array([64.0, 64.0]),
                input_scale=np.array([128.0, 128.0])))
        samples.append(sample)
    return samples


def test_forward_shapes_and_channels():
    head = _head()
    assert isinstance(head, PromptPoseHead)
    assert head.in_channels == IN_CHANNELS
    assert head.deconv_layers[0].in_channels == IN_CHANNELS + K
    feats = _feats()
    assert head(feats).shape == (2, K, 32, 32)
    assert head.forward_pixel(feats).shape == (2, K, 32, 32)
    deconvs = [
        m for m in head.pixel_branch.modules()
        if isinstance(m, torch.nn.ConvTranspose2d)
    ]
    assert [(m.in_channels, m.out_channels, m.kernel_size)
            for m in deconvs] == [(K, K, (4, 4))] * 2
    assert head.pixel_branch.final_layer.kernel_size == (1, 1)
    # HeatmapHead's initialisation covers the keypoint branch only.
    head.init_weights()
    assert head.final_layer.weight.std().item() < 0.01
    assert head.pixel_branch.final_layer.weight.std().item() > 0.1


def _convs(module):
    return [
        m for m in module.modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))
    ]


def _fan_in(conv):
    """PyTorch's fan-in of a (de)convolution weight: the second weight
    dimension times the kernel area (``out_channels`` for a deconv)."""
    kh, kw = conv.kernel_size
    if isinstance(conv, torch.nn.ConvTranspose2d):
        return conv.out_channels * kh * kw
    return conv.in_channels * kh * kw


@pytest.mark.parametrize('pixel_channels', [None, (256, 256, 256)])
def test_init_keypoint_normal_pixel_pytorch_default(pixel_channels):
    """As CLAMP initialises: the keypoint branch (deconvs and
    final conv) N(0, 0.001) with zero biases; the pixel branch PyTorch's
    default, kaiming_uniform(a=sqrt(5)): U(-b, b) with b = 1/sqrt(fan_in),
    i.e. std 1/sqrt(3 fan_in), biases U(-b, b); BatchNorms weight 1, bias
    0. Shapes of the ResNet-50 recipe (3 deconvs) with K- (ViT-like) or
    256-channel pixel deconvs."""
    torch.manual_seed(0)
    head = PromptPoseHead(
        in_channels=2048,
        out_channels=17,
        pixel_deconv_out_channels=pixel_channels)
    head.init_weights()

    keypoint = [head.deconv_layers, head.final_layer]
    for part in keypoint:
        for conv in _convs(part):
            weight = conv.weight.detach()
            # Relative standard error of a std estimate is 1/sqrt(2n)
            # (n >= 4352 here): 10 % is over 9 standard errors.
            assert weight.std().item() == pytest.approx(0.001, rel=0.1)
            assert weight.mean().abs().item() < 1e-4
            if conv.bias is not None:
                assert torch.equal(conv.bias, torch.zeros_like(conv.bias))
    assert head.final_layer.bias is not None

    convs = _convs(head.pixel_branch)
    assert len(convs) == 4
    for conv in convs:
        bound = 1 / math.sqrt(_fan_in(conv))
        weight = conv.weight.detach()
        assert weight.abs().max().item() <= bound
        assert weight.abs().max().item() > 0.9 * bound
        assert weight.std().item() == pytest.approx(
            bound / math.sqrt(3), rel=0.1)
        if conv.bias is not None:
            bias = conv.bias.detach()
            assert bias.abs().max().item() <= bound
            assert bias.abs().min().item() > 0
    assert convs[-1].bias is not None
    for norm in head.pixel_branch.modules():
        if isinstance(norm, torch.nn.BatchNorm2d):
            assert torch.equal(norm.weight, torch.ones_like(norm.weight))
            assert torch.equal(norm.bias, torch.zeros_like(norm.bias))
    # The pixel branch's final conv: 1 / sqrt(3 * fan_in), not 0.001.
    width = (pixel_channels or (17, ))[-1]
    assert convs[-1].weight.std().item() == pytest.approx(
        1 / math.sqrt(3 * width), rel=0.1)

    # As in a model: the estimator's init_weights reaches the head.
    from mmengine.model import BaseModule

    class Wrapper(BaseModule):

        def __init__(self):
            super().__init__()
            self.head = PromptPoseHead(in_channels=64, out_channels=17)

    wrapper = Wrapper()
    wrapper.init_weights()
    final = wrapper.head.pixel_branch.final_layer.weight
    assert final.std().item() == pytest.approx(1 / math.sqrt(3 * 17), rel=0.2)
    assert wrapper.head.final_layer.weight.std().item() == pytest.approx(
        0.001, rel=0.1)


def test_pixel_init_cfg_option():
    head = PromptPoseHead(
        in_channels=64,
        out_channels=17,
        pixel_init_cfg=dict(
            type='Normal', layer=['Conv2d', 'ConvTranspose2d'], std=0.001))
    head.init_weights()
    for conv in _convs(head.pixel_branch):
        assert conv.weight.std().item() == pytest.approx(0.001, rel=0.2)


def test_full_size_shapes():
    # CLIP ResNet-50 at 256x256, AP-10K: 2048 x 8 x 8 -> 17 x 64 x 64.
    head = PromptPoseHead(in_channels=2048, out_channels=17)
    feats = PromptPoseFeatures((torch.randn(1, 2048, 8, 8), ),
                               torch.randn(1, 17, 8, 8),
                               torch.randn(1, 1024, 8, 8),
                               torch.randn(1, 17, 1024))
    with torch.no_grad():
        assert head(feats).shape == (1, 17, 64, 64)
        assert head.forward_pixel(feats).shape == (1, 17, 64, 64)
    assert head.deconv_layers[0].in_channels == 2065
    assert head.pixel_loss_module.loss_weight == 0.4
    assert head.semantic_loss_module.loss_weight == 5e-4


def test_loss_values_and_gradients():
    head = _head()
    feats = _feats(requires_grad=True)
    samples = _samples()
    losses = head.loss(feats, samples, train_cfg={})
    assert set(losses) == {
        'loss_kpt', 'acc_pose', 'loss_pixel', 'loss_semantic'
    }
    for value in losses.values():
        assert torch.isfinite(value).all()

    # The numbers, from the formulas (no loss module of the head): the
    # pixel loss is 0.4 * mean over (B, K, H, W) of w_k (S_k - G_k)^2 on the
    # pixel branch's maps; the semantic loss samples the dense map
    # bilinearly at the keypoints (a keypoint at a cell's centre pixel reads
    # that cell), and averages the feature->prompt and prompt->feature
    # cross entropies of the valid keypoints over all B * K entries, times
    # 5e-4. Invisible (weight 0) and out-of-crop keypoints are excluded.
    gt = torch.stack([s.gt_fields.heatmaps for s in samples])
    weights = torch.cat(
        [s.gt_instance_labels.keypoint_weights for s in samples])
    maps = head.forward_pixel(feats).detach()
    expected_pixel = 0.4 * ((maps - gt)**2 * weights[:, :, None, None]).mean()
    assert losses['loss_pixel'].item() == pytest.approx(
        expected_pixel.item(), rel=1e-5)
    keypoints = np.concatenate(
        [s.gt_instances.transformed_keypoints for s in samples])
    valid = torch.tensor([[False, True, True, True, False],
                          [True, False, True, True, False]])
    dense = feats.dense.detach().double()
    _, _, h, w = dense.shape
    scale = head.semantic_loss_module.scale.item()
    total = 0.0
    for b in range(2):
        picked = [k for k in range(K) if valid[b, k]]
        rows = []
        for k in picked:
            # input pixel -> feature cell coordinates (cell centres at
            # (j + 0.5) * stride - 0.5), then bilinear between four cells
            cx = (keypoints[b, k, 0] + 0.5) * w / INPUT_SIZE[0] - 0.5
            cy = (keypoints[b, k, 1] + 0.5) * h / INPUT_SIZE[1] - 0.5
            x0, y0 = math.floor(cx), math.floor(cy)
            fx, fy = cx - x0, cy - y0
            feature = 0
            for dx, dy, a in ((0, 0, (1 - fx) * (1 - fy)), (1, 0,
                                                            fx * (1 - fy)),
                              (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
                xi = min(max(x0 + dx, 0), w - 1)
                yi = min(max(y0 + dy, 0), h - 1)
                feature = feature + a * dense[b, :, yi, xi]
            rows.append(feature / feature.norm())
        f = torch.stack(rows)
        t = feats.text.detach().double()[b, picked]
        t = t / t.norm(dim=-1, keepdim=True)
        logits = scale * f @ t.T
        diag = torch.arange(len(picked))
        total += -(logits.log_softmax(1)[diag, diag]).sum().item()
        total += -(logits.log_softmax(0)[diag, diag]).sum().item()
    expected_semantic = 5e-4 * total / (2 * 2 * K)
    assert losses['loss_semantic'].item() == pytest.approx(
        expected_semantic, rel=1e-4)
    assert losses['loss_semantic'].item() > 0

    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    must_learn = {
        'keypoint deconv': head.deconv_layers[0].weight,
        'keypoint final': head.final_layer.weight,
        'pixel deconv': head.pixel_branch.deconv_layers[0].weight,
        'pixel final': head.pixel_branch.final_layer.weight,
        'logit scale': head.semantic_loss_module.logit_scale,
        'score map': feats.score_map,
        'dense map': feats.dense,
        'prompts': feats.text,
        'visual': feats.visual[-1],
    }
    for name, tensor in must_learn.items():
        assert tensor.grad is not None, name
        assert tensor.grad.abs().sum() > 0, name


def test_semantic_loss_ignores_invalid_keypoints():
    head = _head()
    feats = _feats()
    samples = _samples()
    base = head.loss(feats, samples)['loss_semantic']
    # Moving the invisible keypoint (weight 0) of sample 0 or the out-of-crop
    # one of sample 1 (even to NaN) changes nothing.
    samples[0].gt_instances.transformed_keypoints[0, 0] = (5.0, 5.0)
    samples[1].gt_instances.transformed_keypoints[0, 4] = np.nan
    moved = head.loss(feats, samples)['loss_semantic']
    assert moved.item() == pytest.approx(base.item(), rel=1e-6)
    # Moving a valid keypoint does.
    samples[1].gt_instances.transformed_keypoints[0, 2] = (60.0, 60.0)
    changed = head.loss(feats, samples)['loss_semantic']
    assert abs(changed.item() - base.item()) > 1e-4


def test_all_keypoints_invalid_gives_zero_semantic_loss():
    head = _head()
    feats = _feats(requires_grad=True)
    samples = _samples()
    for s in samples:
        s.gt_instance_labels.keypoint_weights.zero_()
    losses = head.loss(feats, samples)
    assert losses['loss_semantic'].item() == 0.0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert head.semantic_loss_module.logit_scale.grad is not None


def test_missing_transformed_keypoints_error():
    head = _head()
    with pytest.raises(ValueError, match='pack_transformed=True'):
        head.loss(_feats(), _samples(transformed=False))


def test_wrong_score_map_channels_error():
    head = _head()
    with pytest.raises(ValueError, match='4 channels.*out_channels=5'):
        head(_feats(num_maps=4))
    with pytest.raises(TypeError, match='PromptPoseFeatures'):
        head((torch.zeros(1, IN_CHANNELS, 8, 8), ))
    bad = _feats()._replace(score_map=torch.zeros(2, K, 4, 4))
    with pytest.raises(ValueError, match='same size'):
        head(bad)


def test_switching_losses_off():
    no_pixel = _head(pixel_loss=None)
    assert no_pixel.pixel_branch is None
    assert not any('pixel' in n for n, _ in no_pixel.named_parameters())
    losses = no_pixel.loss(_feats(), _samples())
    assert set(losses) == {'loss_kpt', 'acc_pose', 'loss_semantic'}
    with pytest.raises(RuntimeError, match='pixel_loss=None'):
        no_pixel.forward_pixel(_feats())

    no_semantic = _head(semantic_loss=None)
    assert not any('logit_scale' in n
                   for n, _ in no_semantic.named_parameters())
    # Without the semantic loss the input-space keypoints are not needed.
    losses = no_semantic.loss(_feats(), _samples(transformed=False))
    assert set(losses) == {'loss_kpt', 'acc_pose', 'loss_pixel'}
    with pytest.raises(RuntimeError, match='semantic_loss=None'):
        no_semantic.loss_semantic(_feats(), _samples())

    plain = _head(pixel_loss=None, semantic_loss=None)
    losses = plain.loss(
        _feats(),
        _samples(transformed=False),
        train_cfg=dict(compute_acc=False))
    assert set(losses) == {'loss_kpt'}


def _mirror(feats):
    """The features of the horizontally flipped image (exact mirror)."""
    return PromptPoseFeatures(
        tuple(v.flip(-1) for v in feats.visual),
        feats.score_map.flip(-1)[:, FLIP_INDICES], feats.dense.flip(-1),
        feats.text[:, FLIP_INDICES])


def test_predict_with_flip_test():
    head = _head().eval()
    feats = _feats()
    feats_flip = _mirror(feats)
    samples = _samples()
    test_cfg = dict(
        flip_test=True,
        flip_mode='heatmap',
        shift_heatmap=False,
        output_heatmaps=True)
    with torch.no_grad():
        preds, fields = head.predict([feats, feats_flip], samples, test_cfg)
        plain = head(feats)
        flipped_back = head(feats_flip).flip(-1)[:, FLIP_INDICES]
    assert len(preds) == 2
    for b, (pred, field) in enumerate(zip(preds, fields)):
        assert pred.keypoints.shape == (1, K, 2)
        assert pred.keypoint_scores.shape == (1, K)
        expected = (plain[b] + flipped_back[b]) / 2
        assert torch.allclose(field.heatmaps, expected, atol=1e-7)
        # The keypoints are the codec's decoding of the averaged heatmaps.
        keypoints, scores = head.decoder.decode(expected.numpy())
        assert np.allclose(pred.keypoints, keypoints)
        assert np.allclose(pred.keypoint_scores, scores)
        found = scores[0] > 0
        assert found.any()
        assert ((keypoints[0][found] >= 0) & (keypoints[0][found] < 128)).all()
    # The flip branch matters: averaging is not the plain heatmap.
    assert not torch.allclose(fields[0].heatmaps, plain[0])

    with torch.no_grad():
        single = head.predict(feats, samples, dict(flip_test=False))
    assert single[0].keypoints.shape == (1, K, 2)


def test_loss_with_mmpose_pipeline_samples():
    # Data samples made by MMPose's own top-down pipeline.
    from mmpose.datasets.transforms import (GenerateTarget, GetBBoxCenterScale,
                                            PackPoseInputs, TopdownAffine)
    codec = dict(
        type='MSRAHeatmap',
        input_size=INPUT_SIZE,
        heatmap_size=(32, 32),
        sigma=2)
    transforms = [
        GetBBoxCenterScale(),
        TopdownAffine(input_size=INPUT_SIZE),
        GenerateTarget(encoder=codec),
        PackPoseInputs(pack_transformed=True),
    ]
    keypoints = np.array([[[60, 40], [100, 80], [20, 20], [150, 90], [300, 10]]
                          ],
                         dtype=np.float32)
    visible = np.array([[1, 1, 0, 1, 1]], dtype=np.float32)
    samples = []
    for _ in range(2):
        results = dict(
            img=np.zeros((120, 200, 3), dtype=np.uint8),
            img_shape=(120, 200),
            bbox=np.array([[10, 10, 170, 110]], dtype=np.float32),
            bbox_score=np.ones(1, dtype=np.float32),
            keypoints=keypoints.copy(),
            keypoints_visible=visible.copy(),
            flip_indices=FLIP_INDICES)
        for transform in transforms:
            results = transform(results)
        samples.append(results['data_samples'])
    # The 160x100 box, padded by 1.25 and made square, is a 200x200 crop
    # centred at (90, 60), resized to 128x128.
    transformed = samples[0].gt_instances.transformed_keypoints
    assert transformed.shape == (1, K, 2)
    assert np.allclose(
        transformed[0, 0], ((60 - 90) * 0.64 + 64, (40 - 60) * 0.64 + 64),
        atol=1e-3)
    assert tuple(samples[0].metainfo['input_size']) == INPUT_SIZE
    head = _head()
    feats = _feats()
    losses = head.loss(feats, samples)
    assert set(losses) == {
        'loss_kpt', 'acc_pose', 'loss_pixel', 'loss_semantic'
    }
    assert all(torch.isfinite(v) for v in losses.values())
    # Keypoint 2 is invisible and keypoint 4 outside the crop.
    keypoints = torch.from_numpy(np.concatenate([transformed, transformed]))
    valid = torch.tensor([[True, True, False, True, False]] * 2)
    expected = head.semantic_loss_module(
        sample_keypoint_features(feats.dense, keypoints, INPUT_SIZE),
        feats.text, valid)
    assert losses['loss_semantic'].item() == pytest.approx(
        expected.item(), rel=1e-6)
