"""ONNX export with the prompts folded in, and onnxruntime as a backend:
the graph, the heatmaps and keypoints against
PyTorch on the bundled images, flip test, the tools, and clear errors.

Models have random weights (no CLIP weights here), saved in MMEngine's
checkpoint format as training writes them.
"""
import json
import os.path as osp

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort
import pytest
import torch
from mmpose.apis import inference_topdown

from promptpose_mm.apis import (build_inference_model, build_pose_inferencer,
                                check_pose_checkpoint, init_model, load_config)
from promptpose_mm.deployment import (FoldedPoseModel, OnnxRuntimeModel,
                                      export_onnx, is_onnx_file,
                                      onnxruntime_config)
from promptpose_mm.deployment.onnx_export import input_size_of
from tests.paths import AP10K, PROMPTPOSE_CONFIGS, TINY_CONFIGS, load_tool

IMAGES = [osp.join(AP10K, f'0000000{n}.jpg') for n in ('00004', '37516')]
BOXES = np.array([[120., 90., 880., 640.]])
BASELINE_TINY = osp.join(PROMPTPOSE_CONFIGS,
                         'td-hm_clip-tiny-rn_1xb2-500e_ap10k-256x256.py')
PAPER = dict(
    rn50=osp.join(PROMPTPOSE_CONFIGS,
                  'td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py'),
    vit=osp.join(PROMPTPOSE_CONFIGS,
                 'td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256.py'))
TOL = 1e-4


@pytest.fixture(scope='module', params=['resnet', 'vit', 'baseline'])
def exported(request, tmp_path_factory, random_checkpoint):
    """(config, .pth, .onnx, export result) of a tiny model."""
    config = BASELINE_TINY if request.param == 'baseline' else \
        TINY_CONFIGS[request.param]
    root = tmp_path_factory.mktemp(f'onnx_{request.param}')
    pth = random_checkpoint(config, str(root / 'model.pth'))
    model = init_model(config, pth, device='cpu')
    onnx_file = str(root / 'model.onnx')
    result = export_onnx(model, onnx_file, input_size_of(model.cfg))
    return request.param, config, pth, onnx_file, result


def test_graph_holds_no_text_or_prompt_encoder(exported):
    kind, config, pth, onnx_file, result = exported
    proto = onnx.load(onnx_file)
    onnx.checker.check_model(proto, full_check=True)
    names = [t.name for t in proto.graph.initializer]
    names += [n.name for n in proto.graph.node]
    names += [v for n in proto.graph.node for v in (*n.input, *n.output)]
    assert not [n for n in names if 'text_encoder' in n]
    assert not [n for n in names if 'prompt_encoder' in n]
    assert not [n for n in names if 'pixel_branch' in n]
    model = init_model(config, pth, device='cpu')
    state = model.state_dict()
    if kind == 'baseline':
        assert result['metadata']['promptpose_mm.prompts_folded'] == 'false'
        return
    assert result['metadata']['promptpose_mm.prompts_folded'] == 'true'
    # the prompts are a constant of the graph, equal to the model's
    # (K, D) prompts; every weight of the text and prompt encoders is absent
    with torch.no_grad():
        prompts = model.neck.prompts().numpy()
    constants = [
        onnx.numpy_helper.to_array(t) for t in proto.graph.initializer
        if int(np.prod(t.dims)) == prompts.size
    ]
    assert any(
        np.allclose(c.reshape(prompts.shape), prompts, atol=1e-6)
        for c in constants)
    encoders = sum(v.numel() for k, v in state.items()
                   if k.startswith(('neck.text_encoder',
                                    'neck.prompt_encoder')))
    total = sum(v.numel() for v in state.values())
    assert encoders > 0
    assert result['parameters'] <= total - encoders + 17 * 32


def test_dynamic_batch_equals_pytorch(exported):
    _, config, pth, onnx_file, _ = exported
    model = init_model(config, pth, device='cpu')
    folded = FoldedPoseModel(model)
    session = ort.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    for batch in (1, 3):
        inputs = torch.randn(batch, 3, 256, 256)
        with torch.no_grad():
            expected = folded(inputs).numpy()
        found, = session.run(None, {'input': inputs.numpy()})
        assert found.shape == expected.shape == (batch, 17, 64, 64)
        assert np.abs(found - expected).max() < TOL
        assert np.abs(expected).max() > 1e-3  # not all zero


@pytest.mark.parametrize('flip_test', [True, False])
def test_bundled_images_same_heatmaps_and_keypoints(exported, flip_test):
    _, config, pth, onnx_file, _ = exported
    options = {
        'model.test_cfg.flip_test': flip_test,
        'model.test_cfg.output_heatmaps': True
    }
    torch_model = init_model(config, pth, device='cpu', cfg_options=options)
    ort_model = init_model(
        config, onnx_file, device='cpu', cfg_options=options)
    assert type(ort_model.backbone).__name__ == 'OnnxRuntimeModel'
    assert ort_model.dataset_meta['num_keypoints'] == 17
    for image in IMAGES:
        a, = inference_topdown(torch_model, image, BOXES)
        b, = inference_topdown(ort_model, image, BOXES)
        heat_a = a.pred_fields.heatmaps.numpy()
        heat_b = b.pred_fields.heatmaps.numpy()
        assert np.abs(heat_a - heat_b).max() < TOL
        # the same heatmap maxima, keypoints within float noise
        flat_a = heat_a.reshape(17, -1).argmax(1)
        np.testing.assert_array_equal(flat_a, heat_b.reshape(17, -1).argmax(1))
        np.testing.assert_allclose(
            a.pred_instances.keypoints,
            b.pred_instances.keypoints,
            atol=1e-3,
            rtol=0)
        np.testing.assert_allclose(
            a.pred_instances.keypoint_scores,
            b.pred_instances.keypoint_scores,
            atol=TOL,
            rtol=0)


def test_flip_test_changes_the_onnx_prediction(exported):
    """The flip test runs (twice the model, flipped back and averaged): its
    heatmaps differ from the plain ones."""
    _, config, _, onnx_file, _ = exported
    runs = {}
    for flip in (True, False):
        model = init_model(
            config,
            onnx_file,
            device='cpu',
            cfg_options={
                'model.test_cfg.flip_test': flip,
                'model.test_cfg.output_heatmaps': True
            })
        sample, = inference_topdown(model, IMAGES[0], BOXES)
        runs[flip] = sample.pred_fields.heatmaps.numpy()
    assert np.abs(runs[True] - runs[False]).max() > 1e-4


def test_onnx_errors_name_the_file(exported, tmp_path):
    _, config, _, onnx_file, _ = exported
    with pytest.raises(ValueError, match=r'model\.onnx predicts 17 .* 5'):
        OnnxRuntimeModel(onnx_file, num_keypoints=5)
    with pytest.raises(ValueError, match='exported for 256x256 .* 192x256'):
        OnnxRuntimeModel(onnx_file, input_size=(192, 256))
    with pytest.raises(FileNotFoundError, match='missing.onnx does not'):
        init_model(config, str(tmp_path / 'missing.onnx'), device='cpu')
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not an onnx file')
    with pytest.raises(ValueError, match='broken.onnx cannot be loaded'):
        init_model(config, str(broken), device='cpu')
    plain = tmp_path / 'plain.onnx'
    proto = onnx.load(onnx_file)
    del proto.metadata_props[:]
    onnx.save(proto, str(plain))
    with pytest.raises(ValueError, match='not written by promptpose_mm'):
        init_model(config, str(plain), device='cpu')
    # the same K, two keypoints swapped: the heatmaps would be misnamed
    swapped = tmp_path / 'swapped.onnx'
    proto = onnx.load(onnx_file)
    for entry in proto.metadata_props:
        if entry.key == 'promptpose_mm.keypoint_names':
            names = json.loads(entry.value)
            names[1], names[2] = names[2], names[1]
            entry.value = json.dumps(names)
    onnx.save(proto, str(swapped))
    for load in (lambda: init_model(config, str(swapped), device='cpu'),
                 lambda: check_pose_checkpoint(str(swapped), config)):
        with pytest.raises(ValueError) as error:
            load()
        message = str(error.value)
        assert 'swapped.onnx predicts the keypoints' in message
        assert 'pass the config it was exported from' in message


def test_a_tool_builds_one_onnxruntime_session(exported, tmp_path,
                                               monkeypatch):
    """The checkpoint check reads the file's metadata, with the check's
    errors; only the model that runs the file builds a session."""
    _, config, _, onnx_file, _ = exported
    built = []

    class CountingSession(ort.InferenceSession):

        def __init__(self, path, *args, **kwargs):
            built.append(path)
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(ort, 'InferenceSession', CountingSession)
    loaded = check_pose_checkpoint(onnx_file, config)
    assert built == []
    assert loaded['meta']['onnx_metadata'][
        'promptpose_mm.num_keypoints'] == '17'
    build_pose_inferencer(config, onnx_file, device='cpu')
    assert built == [onnx_file]
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not an onnx file')
    with pytest.raises(ValueError, match='broken.onnx cannot be loaded'):
        check_pose_checkpoint(str(broken), config)
    with pytest.raises(FileNotFoundError, match='missing.onnx does not'):
        check_pose_checkpoint(str(tmp_path / 'missing.onnx'), config)
    assert built == [onnx_file]


def test_onnxruntime_config_keeps_codec_and_test_cfg(exported):
    _, config, _, onnx_file, _ = exported
    cfg = load_config(config)
    ort_cfg = onnxruntime_config(cfg, onnx_file)
    assert ort_cfg.model.head.decoder == cfg.model.head.decoder
    assert ort_cfg.model.test_cfg == cfg.model.test_cfg
    assert ort_cfg.model.data_preprocessor == cfg.model.data_preprocessor
    assert ort_cfg.model.backbone.model_file == onnx_file
    assert cfg.model.backbone.type != 'OnnxRuntimeModel'  # a copy
    assert is_onnx_file('a/B.ONNX') and not is_onnx_file('a.pth')
    assert not is_onnx_file(None)


def test_tools_run_the_exported_model(tmp_path, random_checkpoint):
    """export_onnx.py, then the image tool with the .onnx file gives the
    .pth file's poses; a backend that does not fit the file is refused."""
    config = TINY_CONFIGS['resnet']
    pth = random_checkpoint(config, str(tmp_path / 'model.pth'))
    onnx_file = str(tmp_path / 'model.onnx')
    result = load_tool('deployment/export_onnx.py').main(
        [config, pth, onnx_file])
    assert result['max_abs_diff'] < TOL
    assert result['parameters'] < result['checkpoint_parameters']
    inference = load_tool('inference.py')
    outputs = {}
    for name, weights in (('pth', pth), ('onnx', onnx_file)):
        outputs[name] = inference.main([
            IMAGES[0], '--config', config, '--checkpoint', weights, '--bbox',
            *map(str, BOXES[0]), '--device', 'cpu', '--out-dir',
            str(tmp_path / name)
        ])
    (a, ), (b, ) = (outputs[n]['results'] for n in ('pth', 'onnx'))
    for x, y in zip(a['instances'], b['instances']):
        np.testing.assert_allclose(x['keypoints'], y['keypoints'], atol=1e-3)
    with pytest.raises(SystemExit):
        inference.parse_args([
            IMAGES[0], '--config', config, '--checkpoint', onnx_file,
            '--backend', 'pytorch'
        ])
    args = inference.parse_args(
        [IMAGES[0], '--config', config, '--checkpoint', onnx_file])
    assert args.backend == 'onnxruntime'


def test_export_tool_random_weights_and_bad_output(tmp_path, capsys):
    tool = load_tool('deployment/export_onnx.py')
    out = str(tmp_path / 'sub' / 'random.onnx')
    result = tool.main([TINY_CONFIGS['vit'], 'random', out, '--no-verify'])
    assert osp.isfile(out) and 'max_abs_diff' not in result
    assert 'prompts folded in: true' in capsys.readouterr().out
    assert not [p for p in (tmp_path / 'sub').iterdir() if p.suffix != '.onnx']
    with pytest.raises(SystemExit):
        tool.parse_args([TINY_CONFIGS['vit'], 'random', 'x.pth'])


@pytest.mark.slow
@pytest.mark.parametrize('paper', sorted(PAPER))
def test_paper_configs_export(paper, tmp_path):
    """Both paper configs at full size, random weights: the prompts are a
    (17, D) constant and the 63 M (RN50) / 38 M (ViT-B/16) text-encoder
    numbers are not in the file; onnxruntime equals PyTorch."""
    torch.manual_seed(0)
    model = build_inference_model(PAPER[paper])
    cfg = model.cfg
    out = str(tmp_path / f'{paper}.onnx')
    result = export_onnx(model, out, input_size_of(cfg))
    state = model.state_dict()
    text = sum(v.numel() for k, v in state.items()
               if k.startswith('neck.text_encoder'))
    assert text > 30e6
    assert result['parameters'] < sum(v.numel() for v in state.values()) - text
    from promptpose_mm.deployment import verify_onnx
    assert verify_onnx(model, out, input_size_of(cfg)) < TOL
