"""Video analysis and its outputs for the lab tools.

A lab's model is what `mim train` makes of an imported DeepLabCut project
(drawn mice, the tiny backbone, two epochs: the suite's shared
``lab_run``); the videos are written here
(FFV1 in AVI, lossless, odd frame sizes).
"""
import os
import os.path as osp
import re

import numpy as np
import pandas as pd
import pytest
from mmengine.config import Config

from promptpose_mm.annotations import import_labels
from promptpose_mm.apis.video import (VideoError, analyze_video,
                                      box_source_warning, default_box_source,
                                      open_video)
from promptpose_mm.io.deeplabcut import read_deeplabcut_predictions
from promptpose_mm.testing.label_projects import (MOUSE_PARTS,
                                                  write_animal_video,
                                                  write_deeplabcut_project,
                                                  write_video)
from tests.paths import REACHING, TINY, load_tool
from tests.test_io.test_video import assert_drawn_at

FRAMES = 9
REACHING_FRAMES = osp.join(REACHING, 'labeled-data', 'reachingvideo1')


@pytest.fixture(scope='module')
def lab_model(lab_run):
    """(config, checkpoint) of the shared lab model: 4 keypoints, trained
    (two epochs) on an imported project with whole-frame boxes."""
    return lab_run['config'], lab_run['checkpoint']


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('videos') / 'walk.avi')
    write_animal_video(path, frames=FRAMES, size=(95, 81))
    return path


@pytest.fixture(scope='module')
def model(lab_model):
    from promptpose_mm.apis import init_model
    config, checkpoint = lab_model
    return init_model(config, checkpoint, device='cpu')


@pytest.mark.slow
def test_equals_image_inference_frame_by_frame(model, video):
    from mmpose.apis import inference_topdown

    from promptpose_mm.apis.video import to_bgr
    result = analyze_video(model, video, 'frame', batch_size=4, progress=False)
    assert result.keypoints.shape == (FRAMES, 1, 4, 2)
    assert result.complete
    frames = open_video(video)
    for t in range(FRAMES):
        image = to_bgr(frames[t])
        sample, = inference_topdown(model, image,
                                    np.array([[0, 0, 95, 81]], np.float32))
        np.testing.assert_allclose(
            result.keypoints[t, 0],
            sample.pred_instances.keypoints[0],
            atol=1e-4)
        np.testing.assert_allclose(
            result.scores[t, 0],
            sample.pred_instances.keypoint_scores[0],
            atol=1e-4)
    np.testing.assert_array_equal(result.boxes[:, 0],
                                  [[0, 0, 95, 81]] * FRAMES)


@pytest.mark.slow
def test_the_tool_writes_files_the_lab_tools_read(lab_model, video, tmp_path):
    import sleap_io as sio
    config, checkpoint = lab_model
    out = str(tmp_path / 'out')
    files = load_tool('analyze_video.py').main([
        video, '--config', config, '--checkpoint', checkpoint, '--out-dir',
        out, '--batch-size', '4', '--labelled-video'
    ])
    stem = osp.join(out, 'walkDLC_PromptPose')
    assert sorted(files) == sorted(stem + s
                                   for s in ('.h5', '.csv', '_meta.pickle',
                                             '.slp', '.analysis.h5', '.nwb',
                                             '_boxes.csv', '_labelled.mp4'))
    boxes = pd.read_csv(stem + '_boxes.csv')
    assert list(boxes.columns) == [
        'frame', 'individual', 'state', 'x1', 'y1', 'x2', 'y2'
    ]
    assert boxes['frame'].tolist() == list(range(FRAMES))
    assert set(boxes['state']) == {'frame'}
    np.testing.assert_array_equal(boxes[['x1', 'y1', 'x2', 'y2']],
                                  [[0, 0, 95, 81]] * FRAMES)
    table = pd.read_hdf(stem + '.h5')
    assert table.columns.names == ['scorer', 'bodyparts', 'coords']
    assert list(
        table.columns.get_level_values('bodyparts').unique()) == MOUSE_PARTS
    assert list(table.columns.get_level_values('coords').unique()) == [
        'x', 'y', 'likelihood'
    ]
    assert len(table) == FRAMES == len(open_video(video))
    from_csv = pd.read_csv(stem + '.csv', header=[0, 1, 2], index_col=0)
    np.testing.assert_allclose(from_csv.to_numpy(), table.to_numpy())
    points, scores = read_deeplabcut_predictions(stem + '.h5')
    labels = sio.load_slp(stem + '.slp')
    assert len(labels.labeled_frames) == FRAMES
    np.testing.assert_allclose(labels.numpy()[:, :1], points, atol=1e-4)
    assert labels.skeletons[0].node_names == MOUSE_PARTS
    analysis = sio.load_file(stem + '.analysis.h5')
    np.testing.assert_allclose(analysis.numpy(), points, atol=1e-4)
    from movement.io import load_dataset
    nwb = load_dataset(stem + '.nwb', source_software='NWB')
    assert nwb.individuals.values.tolist() == ['animal1']
    np.testing.assert_allclose(
        nwb.position.sel(
            keypoints=MOUSE_PARTS).transpose('time', 'individuals',
                                             'keypoints', 'space'),
        points,
        atol=1e-4)
    meta = pd.read_pickle(stem + '_meta.pickle')['data']
    assert meta['frame_dimensions'] == (95, 81)
    assert meta['nframes'] == FRAMES
    assert meta['cropping_parameters'] == [0, 95, 0, 81]
    assert meta['Scorer'] == 'DLC_PromptPose'
    assert meta['bodyparts'] == MOUSE_PARTS
    assert meta['batch_size'] == 4
    assert 0 < meta['run_duration'] < 600
    drawn = sio.load_video(stem + '_labelled.mp4')
    assert len(drawn) == FRAMES  # an odd 95x81 source, still encoded
    # every point scoring at least --kpt-thr is drawn where it is
    source = open_video(video)
    for t in (0, FRAMES - 1):
        shown = scores[t, 0] >= 0.3
        assert_drawn_at(
            np.asarray(drawn[t]), np.asarray(source[t]), points[t, 0][shown])
    model = _image_model(config, checkpoint)
    direct = analyze_video(model, video, 'frame', progress=False)
    np.testing.assert_allclose(points, direct.keypoints, atol=1e-4)
    np.testing.assert_allclose(scores, direct.scores, atol=1e-4)


@pytest.mark.slow
def test_the_tool_runs_an_exported_model(lab_model, tmp_path,
                                         random_checkpoint):
    """The lab's config exported to ONNX: analyze_video.py gives the same
    poses from the .onnx file as from the .pth file, on
    a video of three real 832x747 frames of the reaching-mouse project."""
    from PIL import Image
    frames = [
        np.asarray(
            Image.open(osp.join(REACHING_FRAMES,
                                f'img{n}.png')).convert('RGB'))
        for n in ('005', '020', '227')
    ]
    video = str(tmp_path / 'reaching.avi')
    write_video(video, frames)
    config, _ = lab_model
    pth = random_checkpoint(config, str(tmp_path / 'model.pth'))
    onnx_file = str(tmp_path / 'model.onnx')
    load_tool('deployment/export_onnx.py').main([config, pth, onnx_file])
    poses = {}
    for name, weights in (('pth', pth), ('onnx', onnx_file)):
        out = str(tmp_path / name)
        load_tool('analyze_video.py').main([
            video, '--config', config, '--checkpoint', weights, '--out-dir',
            out, '--batch-size', '2', '--formats', 'dlc-h5'
        ])
        poses[name] = read_deeplabcut_predictions(
            osp.join(out, 'reachingDLC_PromptPose.h5'))
    (points, scores), (onnx_points, onnx_scores) = poses['pth'], poses['onnx']
    assert points.shape == (3, 1, 4, 2)
    # random weights: the maxima sit at a few places (often a border), not
    # all at one, so a backend with other heatmaps would move some of them
    assert len(np.unique(points.reshape(-1, 2), axis=0)) > 2
    np.testing.assert_allclose(onnx_points, points, atol=1e-3)
    np.testing.assert_allclose(onnx_scores, scores, atol=1e-4)


def _image_model(config, checkpoint):
    from promptpose_mm.apis import init_model
    return init_model(config, checkpoint, device='cpu')


@pytest.mark.slow
def test_fixed_boxes_give_slots(model, video):
    fixed = analyze_video(
        model,
        video,
        'fixed',
        boxes=[[0, 0, 50, 81], [45, 0, 95, 81]],
        progress=False)
    assert fixed.keypoints.shape == (FRAMES, 2, 4, 2)
    np.testing.assert_array_equal(fixed.boxes[3],
                                  [[0, 0, 50, 81], [45, 0, 95, 81]])
    assert (fixed.states == 'fixed').all()


@pytest.mark.slow
def test_interrupted_run_writes_the_frames_done(lab_model, video, tmp_path,
                                                monkeypatch):
    from promptpose_mm.apis import video as video_api
    original = video_api.TopdownBatch.__call__
    calls = []

    def stop_at_second_batch(self, images, boxes):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, images, boxes)

    monkeypatch.setattr(video_api.TopdownBatch, '__call__',
                        stop_at_second_batch)
    config, checkpoint = lab_model
    out = str(tmp_path / 'out')
    with pytest.raises(SystemExit) as stop:
        load_tool('analyze_video.py').main([
            video, '--config', config, '--checkpoint', checkpoint, '--out-dir',
            out, '--batch-size', '4', '--formats', 'dlc-h5', 'slp'
        ])
    assert stop.value.code == 130
    assert len(pd.read_hdf(osp.join(out, 'walkDLC_PromptPose.h5'))) == 4
    import sleap_io as sio
    assert len(
        sio.load_slp(osp.join(out,
                              'walkDLC_PromptPose.slp')).labeled_frames) == 4
    assert not [name for name in os.listdir(out) if 'partial' in name]


@pytest.mark.slow
def test_bad_inputs_name_the_file(lab_model, video, tmp_path):
    config, checkpoint = lab_model
    tool = load_tool('analyze_video.py')
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video at all')
    with pytest.raises(VideoError, match='broken.mp4'):
        open_video(str(broken))
    with pytest.raises(FileNotFoundError, match='nothing.mp4'):
        open_video(str(tmp_path / 'nothing.mp4'))
    with open(video, 'rb') as file:
        data = file.read()
    truncated = tmp_path / 'truncated.avi'
    truncated.write_bytes(data[:len(data) // 3])
    with pytest.raises(SystemExit, match='truncated.avi') as stop:
        tool.main([
            str(truncated), '--config', config, '--checkpoint', checkpoint,
            '--out-dir',
            str(tmp_path / 'o1'), '--formats', 'dlc-h5', '--batch-size', '2'
        ])
    failed = re.search(r'frame (\d+) cannot be decoded', str(stop.value))
    if failed:  # the frames before it are written
        table = pd.read_hdf(
            str(tmp_path / 'o1' / 'truncatedDLC_PromptPose.h5'))
        assert len(table) == int(failed.group(1)) > 0
    (tmp_path / 'a_file').write_text('x')
    with pytest.raises(SystemExit, match='cannot be written'):
        tool.main([
            video, '--config', config, '--checkpoint', checkpoint, '--out-dir',
            str(tmp_path / 'a_file' / 'out')
        ])
    # a 4-keypoint checkpoint with the 17-keypoint AP-10K config
    with pytest.raises(SystemExit, match='4 keypoints.*17'):
        tool.main([
            video, '--config', TINY, '--checkpoint', checkpoint, '--out-dir',
            str(tmp_path / 'o2')
        ])


def test_default_boxes_follow_the_training_boxes(tmp_path):
    write_deeplabcut_project(str(tmp_path / 'p'), {'v1': 3, 'v2': 2})
    crops = Config.fromfile(
        import_labels(
            str(tmp_path / 'p'), str(tmp_path / 'a'),
            base_config=TINY)['config'])
    frames = Config.fromfile(
        import_labels(
            str(tmp_path / 'p'),
            str(tmp_path / 'f'),
            base_config=TINY,
            box_mode='frame')['config'])
    assert default_box_source(crops)[0] == 'track'
    assert default_box_source(frames)[0] == 'frame'
    assert default_box_source(Config.fromfile(TINY))[0] == 'track'
    warning = box_source_warning(crops, 'frame')
    assert 'scale the model never learned' in warning
    assert box_source_warning(crops, 'track') is None
    assert box_source_warning(frames, 'frame') is None
    assert 'use --boxes frame' in box_source_warning(frames, 'track')


@pytest.mark.slow
def test_detector_gives_several_animals(lab_model, video, tmp_path,
                                        tiny_dog_detector):
    config, checkpoint = lab_model
    out = str(tmp_path / 'out')
    load_tool('analyze_video.py').main([
        video, '--config', config, '--checkpoint', checkpoint, '--out-dir',
        out, '--boxes', 'detector', '--det-config',
        tiny_dog_detector['config'], '--det-checkpoint',
        tiny_dog_detector['checkpoint'], '--nms-thr', '1', '--formats',
        'dlc-h5', 'slp', 'boxes'
    ])
    # several animals: DeepLabCut's tracked table, named as it names it
    table = pd.read_hdf(
        osp.join(out, 'walkDLC_PromptPose_el.h5'), 'df_with_missing')
    assert table.columns.names == [
        'scorer', 'individuals', 'bodyparts', 'coords'
    ]
    # the tiny detector finds three "dogs" on every frame
    assert list(table.columns.get_level_values('individuals').unique()) == [
        'animal1', 'animal2', 'animal3'
    ]
    assert len(table) == FRAMES
    assert np.isfinite(table.to_numpy()).all()
    boxes = pd.read_csv(osp.join(out, 'walkDLC_PromptPose_boxes.csv'))
    assert set(boxes['state']) == {'detected'}
    # identities: each animal keeps its box from frame to frame
    for name, rows in boxes.groupby('individual'):
        spread = rows[['x1', 'y1', 'x2', 'y2']].to_numpy().std(axis=0)
        assert spread.max() < 5, (name, spread)


def test_a_video_without_frames_is_an_error(tmp_path):
    import imageio_ffmpeg
    path = str(tmp_path / 'empty.avi')
    writer = imageio_ffmpeg.write_frames(
        path, (95, 81),
        codec='ffv1',
        pix_fmt_out='bgr0',
        macro_block_size=1,
        fps=10)
    writer.send(None)
    writer.close()  # a valid container, no frame in it
    with pytest.raises(VideoError, match='empty.avi has no frames'):
        open_video(path)
