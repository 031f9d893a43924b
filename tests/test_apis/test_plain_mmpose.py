"""MMPose's own entry points build and run every kind of config the plugin
ships or writes, with nothing but ``import promptpose_mm`` (the configs'
``custom_imports``): ``mmpose.apis.init_model``, ``inference_topdown`` and
``MMPoseInferencer`` on the tiny configs, a downstream project (zebra) and a
config the importer writes for a DeepLabCut project. ``mim train`` and
``mim test`` on the same kinds of config run in
``tests/test_configs/test_checkpoint_real_runs.py``."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmpose.apis import MMPoseInferencer, inference_topdown
from mmpose.apis import init_model as mmpose_init_model

from promptpose_mm.annotations import import_labels
from promptpose_mm.apis import init_model
from tests.paths import AP10K, DATA, REACHING, ROOT, TINY_CONFIGS

ZEBRA = osp.join(ROOT, 'projects', 'zebra_example', 'configs',
                 'promptpose-tiny_zebra.py')
IMAGE = osp.join(AP10K, '000000000004.jpg')
REACHING_NAMES = ['hand', 'finger 1', 'tongue', 'joystick 1', 'joystick 2']


@pytest.fixture(scope='module')
def imported(tmp_path_factory):
    """The reaching project imported onto the tiny config: its config."""
    out = str(tmp_path_factory.mktemp('reaching'))
    result = import_labels(REACHING, out, base_config=TINY_CONFIGS['resnet'])
    return result['config']


@pytest.fixture(
    scope='module', params=['tiny-resnet', 'tiny-vit', 'zebra', 'imported'])
def case(request, tmp_path_factory, random_checkpoint):
    """(config, checkpoint, K) of one kind of config."""
    config = {
        'tiny-resnet': lambda: TINY_CONFIGS['resnet'],
        'tiny-vit': lambda: TINY_CONFIGS['vit'],
        'zebra': lambda: ZEBRA,
        'imported': lambda: request.getfixturevalue('imported'),
    }[request.param]()
    folder = tmp_path_factory.mktemp(request.param)
    checkpoint = random_checkpoint(config, str(folder / 'model.pth'))
    k = {'zebra': 9, 'imported': 5}.get(request.param, 17)
    return config, checkpoint, k


def test_mmpose_init_model_and_inference_topdown(case):
    config, checkpoint, k = case
    model = mmpose_init_model(config, checkpoint, device='cpu')
    assert type(model).__name__ == 'PromptPoseEstimator'
    assert len(model.neck.keypoint_names) == k
    assert model.head.final_layer.out_channels == k
    assert model.dataset_meta['num_keypoints'] == k
    # the weights are the checkpoint's
    saved = torch.load(checkpoint, weights_only=True)['state_dict']
    torch.testing.assert_close(model.state_dict()['head.final_layer.weight'],
                               saved['head.final_layer.weight'])
    box = np.array([[40., 30., 300., 280.]])
    plain = inference_topdown(model, IMAGE, box)[0].pred_instances
    assert plain.keypoints.shape == (1, k, 2)
    # the plugin's init_model gives the same model, the same keypoints
    ours = init_model(config, checkpoint, device='cpu')
    again = inference_topdown(ours, IMAGE, box)[0].pred_instances
    np.testing.assert_allclose(again.keypoints, plain.keypoints, atol=1e-4)
    np.testing.assert_allclose(
        again.keypoint_scores, plain.keypoint_scores, atol=1e-5)
    # within the crop MMPose cut: the box padded by 1.25 and made square
    center = (box[0, :2] + box[0, 2:]) / 2
    half = 1.25 * (box[0, 2:] - box[0, :2]).max() / 2
    # (to within two heatmap cells)
    assert (np.abs(plain.keypoints[0] - center) <= half * (1 + 2 / 64)).all()


def test_mmpose_inferencer(case):
    config, checkpoint, k = case
    inferencer = MMPoseInferencer(
        pose2d=config,
        pose2d_weights=checkpoint,
        det_model='whole_image',
        device='cpu')
    result = next(inferencer(IMAGE, return_datasamples=True))
    found = result['predictions'][0].pred_instances
    assert found.keypoints.shape == (1, k, 2)
    # whole image as the box: the same as inference_topdown without boxes
    model = mmpose_init_model(config, checkpoint, device='cpu')
    direct = inference_topdown(model, IMAGE)[0].pred_instances
    np.testing.assert_allclose(found.keypoints, direct.keypoints, atol=1e-3)


def test_imported_config_states_its_metainfo_once(imported):
    text = open(imported).read()
    assert text.count('metainfo.py') == 1
    assert 'model = {' in text and "'metainfo': metainfo" in text
    model = mmpose_init_model(imported, None, device='cpu')
    assert model.neck.keypoint_names == REACHING_NAMES
    assert osp.isdir(DATA)
