"""Inference through MMPose's inferencer, the CLI, and clear errors.

The pose checkpoint is the tiny config's randomly initialised model saved
in MMEngine's format; the detector is a tiny RTMDet whose classifier is set
to call every location a dog with a fixed box size, so it detects
deterministically without downloaded weights.
"""
import json
import os
import os.path as osp
import shutil

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from mmpose.apis import inference_topdown
from mmpose.structures import PoseDataSample

from promptpose_mm.apis import (ANIMAL_DET_CAT_IDS, build_pose_inferencer,
                                check_bboxes, check_pose_checkpoint,
                                checkpoint_num_keypoints, draw_poses,
                                infer_poses, init_model,
                                pose_instances_to_json, read_image,
                                whole_image_bbox)
from promptpose_mm.visualization import PromptPoseLocalVisualizer
from tests.paths import AP10K, ROOT, TINY, load_tool

CONFIG = TINY
IMAGE = osp.join(AP10K, '000000000004.jpg')  # 1024 x 683
IMAGES = sorted(
    osp.join(AP10K, name) for name in os.listdir(AP10K)
    if name.endswith('.jpg'))
K = 17


@pytest.fixture(scope='module')
def files(tmp_path_factory, tiny_dog_detector):
    """Pose and detector checkpoints and configs, written once."""
    root = tmp_path_factory.mktemp('inference')
    torch.manual_seed(0)
    model = init_model(CONFIG, None, device='cpu')
    state = model.state_dict()
    pose = str(root / 'pose.pth')
    torch.save(
        dict(state_dict=state, meta=dict(dataset_meta=model.dataset_meta)),
        pose)
    # the same model with 20 keypoints in its head
    other = {key: value.clone() for key, value in state.items()}
    other['head.final_layer.weight'] = torch.zeros(20, 32, 1, 1)
    other['head.final_layer.bias'] = torch.zeros(20)
    pose20 = str(root / 'pose_20_keypoints.pth')
    torch.save(dict(state_dict=other), pose20)
    truncated = str(root / 'truncated.pth')
    with open(pose, 'rb') as src, open(truncated, 'wb') as dst:
        dst.write(src.read(4096))

    files = dict(root=root, pose=pose, pose20=pose20, truncated=truncated)
    for key in ('config', 'checkpoint'):
        files[f'det_{key}'] = tiny_dog_detector[key]
    return files


@pytest.fixture(scope='module')
def inferencer(files):
    return build_pose_inferencer(CONFIG, files['pose'], device='cpu')


@pytest.fixture(scope='module')
def det_inferencer(files):
    return build_pose_inferencer(
        CONFIG,
        files['pose'],
        det_config=files['det_config'],
        det_checkpoint=files['det_checkpoint'],
        device='cpu')


def test_given_boxes_one_instance_each(inferencer):
    boxes = np.array([[400, 190, 840, 540], [10, 20, 300, 240]], np.float32)
    sample = infer_poses(inferencer, IMAGE, boxes)
    pred = sample.pred_instances
    assert pred.keypoints.shape == (2, K, 2)
    assert pred.keypoint_scores.shape == (2, K)
    np.testing.assert_allclose(pred.bboxes, boxes)
    np.testing.assert_allclose(pred.bbox_scores, [1, 1])
    for box, keypoints in zip(boxes, pred.keypoints):
        # the crop is the box padded by 1.25, made square (256 x 256 input);
        # MMPose puts keypoints without a positive heatmap peak at heatmap
        # pixel -1, one of 64 heatmap pixels outside the crop
        center = (box[:2] + box[2:]) / 2
        half = 1.25 * (box[2:] - box[:2]).max() / 2
        assert (np.abs(keypoints - center) <= half * (1 + 2 / 64) + 1e-3).all()
    # the same as MMPose's own top-down call, box by box
    for index, box in enumerate(boxes):
        alone = inference_topdown(inferencer.inferencer.model, IMAGE,
                                  box[None])[0].pred_instances
        np.testing.assert_allclose(
            alone.keypoints[0], pred.keypoints[index], atol=1e-3)
    instances = pose_instances_to_json(sample)
    assert len(instances) == 2
    assert np.shape(instances[0]['keypoints']) == (K, 2)
    assert instances[1]['bbox'] == boxes[1].tolist()
    assert instances[1]['bbox_score'] == 1.0
    json.dumps(instances)


def test_whole_image_matches_mmpose_inferencer(inferencer):
    img = read_image(IMAGE)
    assert img.shape == (683, 1024, 3)
    np.testing.assert_array_equal(whole_image_bbox(img), [[0, 0, 1024, 683]])
    for boxes in (None, np.zeros((0, 4))):
        pred = infer_poses(inferencer, IMAGE, boxes).pred_instances
        assert pred.keypoints.shape == (1, K, 2)
        np.testing.assert_allclose(pred.bboxes, [[0, 0, 1024, 683]])
    # MMPoseInferencer without detector (det_model='whole_image') agrees
    result = next(inferencer(IMAGE, return_datasamples=True))
    mmpose_pred = result['predictions'][0].pred_instances
    np.testing.assert_allclose(
        mmpose_pred.keypoints, pred.keypoints, atol=1e-3)
    np.testing.assert_allclose(
        mmpose_pred.keypoint_scores, pred.keypoint_scores, atol=1e-5)


def test_mmpose_inferencer_writes_visualisations(inferencer, tmp_path):
    assert isinstance(inferencer.inferencer.visualizer,
                      PromptPoseLocalVisualizer)
    folder = tmp_path / 'images'
    folder.mkdir()
    for path in IMAGES:
        shutil.copy(path, folder)
    out = tmp_path / 'out'
    results = list(inferencer(str(folder), out_dir=str(out), kpt_thr=0.))
    assert len(results) == 2
    for path in IMAGES:
        name = osp.basename(path)
        drawn = mmcv.imread(str(out / 'visualizations' / name))
        assert drawn.shape == mmcv.imread(path).shape
        with open(out / 'predictions' / name.replace('.jpg', '.json')) as f:
            instances = json.load(f)
        assert len(instances) == 1
        assert np.shape(instances[0]['keypoints']) == (K, 2)


def test_draw_poses_marks_the_keypoints(inferencer, tmp_path):
    img = read_image(IMAGE)
    # known keypoints (the random model's scores are too low to be drawn)
    xs = np.linspace(420, 820, K)
    keypoints = np.stack([xs, np.full(K, 300.)], axis=-1)[None]
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(
        keypoints=keypoints.astype(np.float32),
        keypoint_scores=np.ones((1, K), np.float32),
        bboxes=np.array([[400, 190, 840, 540]], np.float32),
        bbox_scores=np.ones(1, np.float32))
    out_file = str(tmp_path / 'drawn.png')
    drawn = draw_poses(inferencer, img, sample, out_file)
    assert drawn.shape == img.shape
    written = mmcv.imread(out_file)  # BGR, lossless
    np.testing.assert_array_equal(written, mmcv.rgb2bgr(drawn))
    for x, y in keypoints[0].round().astype(int):
        assert (written[y, x] != img[y, x]).any()
    far = (100, 900)  # far from the box: untouched
    np.testing.assert_array_equal(written[far], img[far])


def test_plain_pose_visualizer_is_swapped(files):
    cfg = Config.fromfile(CONFIG)
    cfg.visualizer = dict(type='PoseLocalVisualizer')
    inferencer = build_pose_inferencer(cfg, files['pose'], device='cpu')
    assert isinstance(inferencer.inferencer.visualizer,
                      PromptPoseLocalVisualizer)
    assert cfg.visualizer.type == 'PoseLocalVisualizer'  # not modified


def test_detector_boxes(det_inferencer, tiny_dog_detector):
    assert ANIMAL_DET_CAT_IDS == (15, 16, 17, 18, 19, 20, 21, 22, 23)
    detector = det_inferencer.inferencer.detector
    assert detector is not None
    img = read_image(IMAGE)
    detected = detector(
        img, return_datasamples=True)['predictions'][0].pred_instances
    assert len(detected) == 3
    assert (detected.labels == tiny_dog_detector['label']).all()
    # NMS at IoU 1 keeps every box: one pose per detected box
    pred = infer_poses(det_inferencer, img, nms_thr=1.).pred_instances
    assert pred.keypoints.shape == (3, K, 2)

    def rows(boxes):
        return np.array(sorted(np.asarray(boxes).round(2).tolist()))

    np.testing.assert_allclose(
        rows(pred.bboxes), rows(detected.bboxes.numpy()), atol=0.01)
    np.testing.assert_allclose(pred.bbox_scores, 0.99995, atol=1e-4)
    # nothing above the threshold: MMPose falls back to the whole image
    pred = infer_poses(det_inferencer, img, bbox_thr=0.99999).pred_instances
    np.testing.assert_allclose(pred.bboxes, [[0, 0, 1024, 683]])
    # given boxes win over the detector
    pred = infer_poses(det_inferencer, img, [[10, 20, 300, 240]])
    np.testing.assert_allclose(pred.pred_instances.bboxes,
                               [[10, 20, 300, 240]])


def test_tool_with_boxes_and_bbox_file(files, tmp_path):
    tool = load_tool('inference.py')
    out = tmp_path / 'given'
    output = tool.main([
        AP10K, '--config', CONFIG, '--checkpoint', files['pose'], '--bbox',
        '10', '20', '300', '240', '--bbox', '400', '190', '840', '540',
        '--out-dir',
        str(out), '--device', 'cpu'
    ])
    with open(out / 'predictions.json') as f:
        written = json.load(f)
    assert written == json.loads(json.dumps(output))
    assert len(written['keypoint_names']) == K
    assert [osp.basename(r['image']) for r in written['results']
            ] == ['000000000004.jpg', '000000037516.jpg']
    for result in written['results']:
        assert result['boxes_from'] == 'bbox'
        assert [i['bbox']
                for i in result['instances']] == [[10, 20, 300, 240],
                                                  [400, 190, 840, 540]]
        assert np.shape(result['instances'][0]['keypoints']) == (K, 2)
        assert mmcv.imread(result['drawn']).shape[:2] == (result['height'],
                                                          result['width'])

    out = tmp_path / 'from_file'
    output = tool.main([
        IMAGES[0], IMAGES[1], '--config', CONFIG, '--checkpoint',
        files['pose'], '--bbox-file',
        osp.join(AP10K, 'test_ap10k.json'), '--out-dir',
        str(out)
    ])
    boxes = {
        osp.basename(r['image']): r['instances'][0]['bbox']
        for r in output['results']
    }
    # COCO x y w h -> x1 y1 x2 y2
    assert boxes == {
        '000000000004.jpg': [408, 197, 837, 538],
        '000000037516.jpg': [66, 192, 1158, 704]
    }
    assert sorted(os.listdir(out / 'vis')) == sorted(boxes)


def test_tool_with_detector_and_whole_image(files, tmp_path):
    tool = load_tool('inference.py')
    output = tool.main([
        IMAGE, '--config', CONFIG, '--checkpoint', files['pose'],
        '--det-config', files['det_config'], '--det-checkpoint',
        files['det_checkpoint'], '--nms-thr', '1', '--out-dir',
        str(tmp_path / 'det')
    ])
    (result, ) = output['results']
    assert result['boxes_from'] == 'detector'
    assert len(result['instances']) == 3
    output = tool.main([
        IMAGE, IMAGE, '--config', CONFIG, '--checkpoint', files['pose'],
        '--out-dir',
        str(tmp_path / 'whole')
    ])
    assert [r['boxes_from'] for r in output['results']] == ['whole_image'] * 2
    assert output['results'][0]['instances'][0]['bbox'] == [0, 0, 1024, 683]
    # the same name twice: two drawings
    assert sorted(os.listdir(tmp_path / 'whole' / 'vis')) == [
        '000000000004.jpg', '000000000004_1.jpg'
    ]


# ----------------------------------------------------------------- errors


def test_unreadable_images(inferencer, tmp_path):
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError, match='missing.jpg does not exist'):
        read_image(missing)
    text = tmp_path / 'notes.jpg'
    text.write_text('not an image')
    truncated = tmp_path / 'truncated.jpg'
    with open(IMAGE, 'rb') as f:
        truncated.write_bytes(f.read(300))
    for path in (text, truncated):
        with pytest.raises(ValueError, match=f'cannot read image {path}'):
            infer_poses(inferencer, str(path))


def test_tool_fails_on_unreadable_image(files, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    shutil.copy(IMAGE, folder)
    (folder / 'broken.png').write_bytes(b'\x89PNG broken')
    tool = load_tool('inference.py')
    with pytest.raises(SystemExit, match='cannot read image .*broken.png'):
        tool.main([
            str(folder), '--config', CONFIG, '--checkpoint', files['pose'],
            '--out-dir',
            str(tmp_path / 'out')
        ])
    with pytest.raises(SystemExit, match='nowhere.jpg does not exist'):
        tool.main([
            str(tmp_path / 'nowhere.jpg'), '--config', CONFIG, '--checkpoint',
            files['pose']
        ])
    with pytest.raises(SystemExit, match='lists no image named'):
        tool.main([
            str(folder / osp.basename(IMAGE)), '--config', CONFIG,
            '--checkpoint', files['pose'], '--bbox-file',
            osp.join(ROOT, 'tests', 'data', 'horse10', 'test_horse10.json')
        ])


def test_missing_and_corrupt_checkpoints(files, tmp_path):
    missing = str(tmp_path / 'epoch_210.pth')
    with pytest.raises(
            FileNotFoundError,
            match='checkpoint .*epoch_210.pth does not exist'):
        build_pose_inferencer(CONFIG, missing, device='cpu')
    with pytest.raises(ValueError) as error:
        check_pose_checkpoint(files['truncated'], CONFIG)
    message = str(error.value)
    assert files['truncated'] in message
    assert 'is not a readable PyTorch checkpoint' in message
    assert 'truncated' in message and 'save it again' in message
    assert 'weights_only' not in message
    clip_like = str(tmp_path / 'clip.pth')
    torch.save({'visual.conv1.weight': torch.zeros(1)}, clip_like)
    with pytest.raises(ValueError, match='no pose head weights'):
        check_pose_checkpoint(clip_like, CONFIG)


def test_checkpoint_of_another_keypoint_count(files):
    assert checkpoint_num_keypoints(torch.load(files['pose'])) == K
    assert checkpoint_num_keypoints(torch.load(files['pose20'])) == 20
    assert checkpoint_num_keypoints(
        dict(meta=dict(dataset_meta=dict(num_keypoints=9)))) == 9
    with pytest.raises(ValueError) as error:
        build_pose_inferencer(CONFIG, files['pose20'], device='cpu')
    message = str(error.value)
    assert f'checkpoint {files["pose20"]} predicts 20 keypoints' in message
    assert f'config {CONFIG} predicts 17' in message
    assert 'pass the config the checkpoint was trained with' in message
    loaded = check_pose_checkpoint(files['pose'], CONFIG)
    assert loaded['state_dict']['head.final_layer.weight'].shape[0] == K


def test_bad_boxes_and_detector_files(files, tmp_path):
    with pytest.raises(ValueError, match=r'--bbox: box \[300.0, 20.0, 10.0'):
        check_bboxes([[300, 20, 10, 240]], source='--bbox')
    with pytest.raises(ValueError, match=r'must be \(N, 4\)'):
        check_bboxes([[1, 2, 3]])
    np.testing.assert_array_equal(check_bboxes([1, 2, 3, 4]), [[1, 2, 3, 4]])
    with pytest.raises(
            FileNotFoundError,
            match='detector config .*nodet.py does not exist'):
        build_pose_inferencer(
            CONFIG, files['pose'], det_config=str(tmp_path / 'nodet.py'))
    with pytest.raises(ValueError, match='without a checkpoint'):
        build_pose_inferencer(
            CONFIG, files['pose'], det_config=files['det_config'])
    with pytest.raises(
            FileNotFoundError,
            match='detector checkpoint .*nodet.pth does not'):
        build_pose_inferencer(
            CONFIG,
            files['pose'],
            det_config=files['det_config'],
            det_checkpoint=str(tmp_path / 'nodet.pth'))
