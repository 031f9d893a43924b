"""Tests of the PromptPose losses and the keypoint sampling they rely on."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpose.registry import MODELS

from promptpose_mm.models.losses import PixelLevelLoss, SemanticLevelLoss
from promptpose_mm.models.utils import (keypoints_inside,
                                        sample_keypoint_features)


def _reference_semantic(feats, text, valid, scale):
    """The semantic loss written out with loops over the valid keypoints:
    their row and column cross entropies, summed, over ``2 * B * K``."""
    feats = feats.detach().double().numpy()
    text = text.detach().double().numpy()
    valid = valid.numpy()
    total = 0.0
    for b in range(feats.shape[0]):
        idx = [k for k in range(feats.shape[1]) if valid[b, k]]
        f = feats[b, idx] / np.linalg.norm(feats[b, idx], axis=1)[:, None]
        t = text[b, idx] / np.linalg.norm(text[b, idx], axis=1)[:, None]
        logits = scale * f @ t.T
        for i in range(len(idx)):
            row_lse = math.log(sum(math.exp(v) for v in logits[i, :]))
            col_lse = math.log(sum(math.exp(v) for v in logits[:, i]))
            total += (row_lse - logits[i, i]) + (col_lse - logits[i, i])
    return total / (2 * feats.shape[0] * feats.shape[1])


def _semantic_inputs(seed=0, batch=3, num_kpts=5, dim=8):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, num_kpts, dim, generator=gen)
    text = torch.randn(batch, num_kpts, dim, generator=gen)
    valid = torch.tensor([[True, True, False, True, True],
                          [False, True, True, False, True],
                          [True, False, False, False, True]])[:batch]
    return feats, text, valid


def test_semantic_loss_matches_hand_computation():
    loss_fn = SemanticLevelLoss(loss_weight=0.5)
    feats, text, valid = _semantic_inputs()
    # Garbage at invalid keypoints must not matter.
    feats[~valid] = 1e6
    text[~valid] = -3.0
    loss = loss_fn(feats, text, valid)
    scale = 1 / 0.07
    assert loss_fn.scale.item() == pytest.approx(scale, rel=1e-6)
    expected = 0.5 * _reference_semantic(feats, text, valid, scale)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # A keypoint alone in its sample gives exactly 0 for its rows.
    single = torch.tensor([[True, False, False, False, False]])
    one = loss_fn(feats[:1], text[:1], single)
    assert one.item() == pytest.approx(0.0, abs=1e-6)


def test_semantic_loss_divided_by_all_entries_by_hand():
    """Sums over the valid keypoints, divided by B * K (CLAMP's mean).

    B = 2, K = 3, scale 1. Sample 0: keypoints 0, 1 valid, 2 invalid
    (its prompt equals prompt 0, so including it would change row 0);
    sample 1: only keypoint 0 valid (its rows give exactly 0).
    """
    loss_fn = SemanticLevelLoss(temperature_init=1.0)
    assert loss_fn.scale.item() == pytest.approx(1.0)
    nan = float('nan')
    feats = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [nan, nan]],
                          [[3.0, 4.0], [nan, 0.0], [2.0, 2.0]]])
    text = torch.tensor([[[2.0, 0.0], [0.0, 5.0], [1.0, 0.0]],
                         [[1.0, 0.0], [0.0, 1.0], [nan, 1.0]]])
    valid = torch.tensor([[True, True, False], [True, False, False]])
    # Sample 0's cosine logits (rows: features, columns: prompts):
    # [[1, 0], [c, c]] with c = 1 / sqrt(2).
    c = 1 / math.sqrt(2)
    row0 = math.log(math.e + 1) - 1
    row1 = math.log(2 * math.exp(c)) - c  # = log 2
    col0 = math.log(math.e + math.exp(c)) - 1
    col1 = math.log(1 + math.exp(c)) - c
    total = row0 + row1 + col0 + col1
    loss = loss_fn(feats, text, valid)
    assert loss.item() == pytest.approx(total / (2 * 2 * 3), rel=1e-6)
    # Not the mean over the 3 valid keypoints (the former scaling).
    assert loss.item() != pytest.approx(total / (2 * 3), rel=1e-2)
    assert loss.item() == pytest.approx(0.1637190, rel=1e-5)


def test_semantic_loss_all_valid_equals_published_formula():
    """With every keypoint valid nothing is excluded, and the loss is the
    published CLAMP formula: per-entry cross entropies in both directions,
    each averaged over all B * K entries, then halved."""
    loss_fn = SemanticLevelLoss(loss_weight=5e-4)
    feats, text, _ = _semantic_inputs(seed=2)
    valid = torch.ones(3, 5, dtype=torch.bool)
    logits = loss_fn.scale * torch.einsum(
        'bkc,bjc->bkj', F.normalize(feats, dim=-1), F.normalize(text, dim=-1))
    labels = torch.arange(5).expand(3, -1)
    per_visual = F.cross_entropy(logits, labels, reduction='none')
    per_text = F.cross_entropy(
        logits.transpose(1, 2), labels, reduction='none')
    weights = valid.float()  # CLAMP's target_weight
    published = ((per_visual * weights).mean() +
                 (per_text * weights).mean()) / 2 * 5e-4
    loss = loss_fn(feats, text, valid)
    assert loss.item() == pytest.approx(published.item(), rel=1e-5)


def test_semantic_loss_invalid_keypoints_leave_softmax():
    loss_fn = SemanticLevelLoss()
    feats, text, valid = _semantic_inputs()
    base = loss_fn(feats, text, valid)
    # Changing only invalid keypoints' features and prompts changes nothing.
    feats2, text2 = feats.clone(), text.clone()
    feats2[~valid] = torch.randn(int((~valid).sum()), feats.shape[-1])
    text2[~valid] = float('nan')
    assert torch.allclose(loss_fn(feats2, text2, valid), base)
    # Weighting them to zero instead of excluding them would differ.
    assert not torch.allclose(
        loss_fn(feats, text, torch.ones_like(valid)), base)


def test_semantic_loss_all_invisible_is_zero_and_connected():
    loss_fn = SemanticLevelLoss()
    feats, text, _ = _semantic_inputs()
    feats.requires_grad_(True)
    text.requires_grad_(True)
    valid = torch.zeros(3, 5, dtype=torch.bool)
    loss = loss_fn(feats, text, valid)
    assert torch.isfinite(loss)
    assert loss.item() == 0.0
    assert loss.requires_grad
    loss.backward()
    assert loss_fn.logit_scale.grad is not None
    assert loss_fn.logit_scale.grad.item() == 0.0
    assert torch.equal(feats.grad, torch.zeros_like(feats))
    assert torch.equal(text.grad, torch.zeros_like(text))


def test_semantic_loss_permutation():
    loss_fn = SemanticLevelLoss()
    feats, text, valid = _semantic_inputs()
    base = loss_fn(feats, text, valid)
    perm = torch.tensor([3, 0, 4, 1, 2])
    permuted = loss_fn(feats[:, perm], text[:, perm], valid[:, perm])
    assert permuted.item() == pytest.approx(base.item(), rel=1e-5)
    # Permuting only the prompts breaks the keypoint-prompt pairing.
    shuffled = loss_fn(feats, text[:, perm], valid)
    assert abs(shuffled.item() - base.item()) > 1e-3


def test_semantic_loss_temperature_clamp_and_gradient():
    loss_fn = SemanticLevelLoss(temperature_init=0.5)
    assert loss_fn.logit_scale.item() == pytest.approx(math.log(2.0))
    feats, text, valid = _semantic_inputs(seed=1)
    feats, text = feats.double(), text.double()
    loss = loss_fn(feats, text, valid)
    loss.backward()
    grad = loss_fn.logit_scale.grad
    assert grad is not None and grad.abs().item() > 0
    # Numerical check of d loss / d logit_scale.
    eps = 1e-3
    with torch.no_grad():
        loss_fn.logit_scale += eps
        up = loss_fn(feats, text, valid)
        loss_fn.logit_scale -= 2 * eps
        down = loss_fn(feats, text, valid)
        loss_fn.logit_scale += eps
    assert grad.item() == pytest.approx(
        ((up - down) / (2 * eps)).item(), rel=1e-2)

    with torch.no_grad():
        loss_fn.logit_scale.fill_(20.0)
    assert loss_fn.scale.item() == 100.0
    clamped = loss_fn(feats, text, valid)
    expected = _reference_semantic(feats, text, valid, 100.0)
    assert clamped.item() == pytest.approx(expected, rel=1e-5)


def test_semantic_loss_shape_errors_and_registry():
    loss_fn = MODELS.build(dict(type='SemanticLevelLoss', loss_weight=2.0))
    assert isinstance(loss_fn, SemanticLevelLoss)
    assert loss_fn.loss_weight == 2.0
    with pytest.raises(ValueError, match='point_feats and text'):
        loss_fn(
            torch.zeros(2, 5, 8), torch.zeros(2, 5, 4),
            torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match='valid must have shape'):
        loss_fn(
            torch.zeros(2, 5, 8), torch.zeros(2, 5, 8),
            torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match='temperature_init'):
        SemanticLevelLoss(temperature_init=0)


def test_pixel_loss_matches_hand_computation():
    gen = torch.Generator().manual_seed(0)
    output = torch.rand(2, 3, 2, 2, generator=gen)
    target = torch.rand(2, 3, 2, 2, generator=gen)
    weights = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]])
    expected = 0.0
    for b in range(2):
        for k in range(3):
            for y in range(2):
                for x in range(2):
                    diff = output[b, k, y, x] - target[b, k, y, x]
                    expected += weights[b, k].item() * diff.item()**2
    expected /= 2 * 3 * 2 * 2

    loss_fn = MODELS.build(dict(type='PixelLevelLoss', loss_weight=0.4))
    assert isinstance(loss_fn, PixelLevelLoss)
    assert loss_fn.use_target_weight
    loss = loss_fn(output, target, weights)
    assert loss.item() == pytest.approx(0.4 * expected, rel=1e-6)

    unweighted = PixelLevelLoss(use_target_weight=False)(output, target,
                                                         weights)
    plain = ((output - target)**2).mean()
    assert unweighted.item() == pytest.approx(plain.item(), rel=1e-6)


def test_sampling_reads_cell_centres_exactly():
    # 4x4 feature map over a 16 (W) x 8 (H) input: strides 4 and 2.
    feature_map = torch.arange(2 * 16, dtype=torch.float32).view(1, 2, 4, 4)
    input_size = (16, 8)
    cells = [(i, j) for i in range(4) for j in range(4)]
    # Centre of the input pixels covered by cell (i, j): pixels 4j..4j+3
    # horizontally, 2i..2i+1 vertically.
    keypoints = torch.tensor([[[4 * j + 1.5, 2 * i + 0.5] for i, j in cells]])
    sampled = sample_keypoint_features(feature_map, keypoints, input_size)
    assert sampled.shape == (1, 16, 2)
    expected = torch.stack([feature_map[0, :, i, j] for i, j in cells])
    assert torch.allclose(sampled[0], expected, atol=1e-5)


def test_sampling_is_bilinear_between_cells():
    gen = torch.Generator().manual_seed(0)
    feature_map = torch.randn(2, 3, 4, 4, generator=gen)
    input_size = (16, 8)
    keypoints = torch.tensor([
        # Halfway between cells (1, 1) and (1, 2), and the centre of cells
        # (2, 0), (2, 1), (3, 0), (3, 1); a quarter of the way from (0, 0)
        # to (0, 1).
        [[7.5, 2.5], [3.5, 5.5], [2.5, 0.5]],
        [[7.5, 2.5], [3.5, 5.5], [2.5, 0.5]],
    ])
    sampled = sample_keypoint_features(feature_map, keypoints, input_size)
    f = feature_map
    assert torch.allclose(
        sampled[:, 0], (f[:, :, 1, 1] + f[:, :, 1, 2]) / 2, atol=1e-5)
    four = (f[:, :, 2, 0] + f[:, :, 2, 1] + f[:, :, 3, 0] + f[:, :, 3, 1])
    assert torch.allclose(sampled[:, 1], four / 4, atol=1e-5)
    assert torch.allclose(
        sampled[:, 2], 0.75 * f[:, :, 0, 0] + 0.25 * f[:, :, 0, 1], atol=1e-5)


def test_sampling_border_gradient_and_errors():
    feature_map = torch.randn(1, 3, 4, 4, requires_grad=True)
    # Beyond the first cell centre but inside the crop: the edge cell.
    keypoints = torch.tensor([[[0.0, 0.0]]])
    sampled = sample_keypoint_features(feature_map, keypoints, (16, 8))
    assert torch.allclose(sampled[0, 0], feature_map[0, :, 0, 0])
    sampled.sum().backward()
    assert feature_map.grad[0, :, 0, 0].eq(1).all()
    with pytest.raises(ValueError, match=r'\(B, K, 2\)'):
        sample_keypoint_features(feature_map, torch.zeros(1, 3), (16, 8))
    with pytest.raises(ValueError, match='input_size'):
        sample_keypoint_features(feature_map, keypoints, (16, ))
    with pytest.raises(ValueError, match='batch size'):
        sample_keypoint_features(feature_map, keypoints.repeat(2, 1, 1),
                                 (16, 8))


def test_keypoints_inside():
    keypoints = torch.tensor([[[-0.5, 0.0], [-0.6, 0.0], [15.5, 7.5],
                               [15.6, 0.0], [3.0, 7.6], [float('nan'), 1.0],
                               [8.0, 4.0]]])
    inside = keypoints_inside(keypoints, (16, 8))
    assert inside.tolist() == [[True, False, True, False, False, False, True]]
