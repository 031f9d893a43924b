"""Tests of tools/analysis: figures and comparisons on the bundled samples.

Nothing is trained: the checkpoints are the tiny configs' randomly
initialised models, saved as MMEngine checkpoints.
"""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import save_checkpoint
from PIL import Image

from promptpose_mm.analysis import (keypoint_prompt_similarity,
                                    keypoints_to_input, semantic_similarity)
from promptpose_mm.apis import init_model
from promptpose_mm.io.coco import load_coco_images
from promptpose_mm.models import PromptPoseFeatures
from tests.paths import AP10K, TINY, TINY_BASELINE, load_tool

PROMPTPOSE = TINY
BASELINE = TINY_BASELINE
DATA = AP10K
ANN_FILE = osp.join(DATA, 'test_ap10k.json')
IMAGE = osp.join(DATA, '000000000004.jpg')
RIGHT_EYE = 1  # unlabelled in both AP-10K samples


def _tool(name):
    """Import tools/analysis/<name>.py as a module."""
    return load_tool(f'analysis/{name}.py')


def _check_png(path, width=None, height=None, max_size=None):
    """The PNG exists, has the size asked and is not blank."""
    assert osp.isfile(path), path
    image = np.asarray(Image.open(path).convert('RGB'))
    h, w = image.shape[:2]
    if width is not None:
        assert (w, h) == (width, height)
    if max_size is not None:
        # a tight crop of a figure of max_size pixels loses only margins
        assert 0.7 * max_size[0] <= w <= max_size[0]
        assert 0.7 * max_size[1] <= h <= max_size[1]
    assert image.std() > 20
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """Random tiny PromptPose and SimpleBaseline: checkpoints and models."""
    out = {}
    for name, config in (('promptpose', PROMPTPOSE), ('baseline', BASELINE)):
        torch.manual_seed(0)
        model = init_model(config, None, device='cpu')
        path = str(tmp_path_factory.mktemp('ckpt') / f'{name}.pth')
        save_checkpoint(
            dict(
                state_dict=model.state_dict(),
                meta=dict(dataset_meta=model.dataset_meta)), path)
        out[name] = (config, path, model)
    return out


def test_keypoints_to_input_inverts_mmpose_decoding():
    # MMPose maps input pixels back with x / W * s + c - s / 2
    center, scale, size = (300.0, 200.0), (400.0, 200.0), (256, 128)
    points = np.array([[100.0, 100.0], [300.0, 200.0], [500.0, 300.0]])
    mapped = keypoints_to_input(points, center, scale, size)
    expected = (points - center + np.divide(scale, 2)) * np.divide(size, scale)
    np.testing.assert_allclose(mapped, expected, atol=1e-3)
    np.testing.assert_allclose(mapped[1], (128, 64), atol=1e-3)


def test_keypoint_prompt_similarity_by_hand():
    # dense map of one-hot features; keypoint k at the centre of cell k
    dim, num = 4, 3
    dense = torch.zeros(1, dim, 2, 2)
    cells = [(0, 0), (0, 1), (1, 1)]
    for k, (row, col) in enumerate(cells):
        dense[0, k, row, col] = 2.0
    dense[0, 3] = 0.5  # a shared component everywhere
    keypoints = torch.tensor([[[16.0 * c + 7.5, 16.0 * r + 7.5]
                               for r, c in cells]])
    text = torch.eye(num, dim)[None] * 3.0
    feats = PromptPoseFeatures((dense, ), torch.zeros(1, num, 2, 2), dense,
                               text)
    sim = keypoint_prompt_similarity(feats, keypoints, (32, 32))
    norm = np.sqrt(2.0**2 + 0.5**2)
    np.testing.assert_allclose(
        sim[0].numpy(), np.eye(num) * 2.0 / norm, atol=1e-5)


def test_semantic_similarity_tool(models, tmp_path):
    config, checkpoint, model = models['promptpose']
    out_file = str(tmp_path / 'similarity.png')
    written = _tool('semantic_similarity').main(
        [config, checkpoint, '--ann-file', ANN_FILE, '--out-file', out_file])
    assert written == out_file
    # figsize 3 + 0.35 K (+1 for the colour bar) inches at 100 dpi
    _check_png(out_file, max_size=(995, 895))

    result = semantic_similarity(model, load_coco_images(ANN_FILE))
    assert result.similarity.shape == (17, 17)
    assert result.names[:3] == ['left eye', 'right eye', 'nose']
    # both instances label 16 keypoints, all inside their crops
    expected_counts = np.full(17, 2)
    expected_counts[RIGHT_EYE] = 0
    np.testing.assert_array_equal(result.counts, expected_counts)
    assert np.isnan(result.similarity[RIGHT_EYE]).all()
    others = np.delete(result.similarity, RIGHT_EYE, axis=0)
    assert np.isfinite(others).all() and np.abs(others).max() <= 1 + 1e-5


def test_score_maps_tool(models, tmp_path):
    config, checkpoint, _ = models['promptpose']
    tool = _tool('score_maps')
    one = tool.main([
        config, checkpoint, IMAGE, '--bbox', '408', '197', '837', '538',
        '--out-dir',
        str(tmp_path / 'one')
    ])
    assert [osp.basename(p) for p in one] == ['000000000004_score_maps_0.png']
    from_ann = tool.main([
        config, checkpoint, '--ann-file', ANN_FILE, '--out-dir',
        str(tmp_path / 'ann')
    ])
    assert sorted(osp.basename(p) for p in from_ann) == [
        '000000000004_score_maps_0.png', '000000037516_score_maps_0.png'
    ]
    for path in one + from_ann:
        # 6 x 3 panels of 2.2 x 2.4 inches at 100 dpi
        _check_png(path, max_size=(1320, 720))
    with pytest.raises(SystemExit):
        tool.parse_args([config, checkpoint])  # no image, no annotations


def test_compare_predictions_tool(models, tmp_path):
    config_a, checkpoint_a, _ = models['promptpose']
    config_b, checkpoint_b, _ = models['baseline']
    out_file = str(tmp_path / 'compare.png')
    written = _tool('compare_predictions').main([
        config_a, checkpoint_a, config_b, checkpoint_b, '--ann-file', ANN_FILE,
        '--out-file', out_file, '--score-thr', '0'
    ])
    assert written == out_file
    # 3 columns of 300 px; rows as high as the boxes' regions (+10 %):
    # 1200 x 614.4 and 514.8 x 409.2 pixels, plus a 40 px title strip
    height = 300 * (614.4 / 1200 + 409.2 / 514.8) + 40
    _check_png(out_file, width=900, height=int(height))


def test_compare_poses_columns(models):
    from promptpose_mm.analysis import compare_poses
    images = load_coco_images(ANN_FILE, file_names=['000000000004.jpg'])
    comparison = compare_poses(
        dict(A=models['promptpose'][2], B=models['baseline'][2]), images)
    assert comparison.titles == ['ground truth', 'A', 'B']
    gt = comparison.poses[0][0]
    np.testing.assert_array_equal(gt[..., :2], images[0].keypoints)
    np.testing.assert_array_equal(gt[..., 2], images[0].visible)
    for column in comparison.poses[1:]:
        assert column[0].shape == (1, 17, 3)
        x1, y1, x2, y2 = images[0].bboxes[0]
        # predictions lie in the crop, in image pixels: the box padded by
        # 1.25 and widened to the square 256x256 input (MMPose's
        # bbox_xyxy2cs and TopdownAffine's aspect-ratio fix), give or take
        # two heatmap cells of the decoder's sub-pixel refinement
        side = 1.25 * max(x2 - x1, y2 - y1)
        center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        offset = np.abs(column[0][0, :, :2] - center)
        assert (offset <= side / 2 + 2 * side / 64).all(), offset.max()
