"""A config states its dataset once, in one metainfo that the model and the
loaders share; plain MMPose builds the model from it, and a model whose
keypoints disagree with its data stops before anything runs, naming both."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import promptpose_mm  # noqa: F401
from promptpose_mm.apis import build_random_model, load_config
from promptpose_mm.engine import (KeypointConfigError, apply_dataset_keypoints,
                                  dataset_keypoints)
from tests.paths import AP10K, CONFIG_DIR, TINY

CONFIGS = CONFIG_DIR
RES50 = osp.join(CONFIGS, 'promptpose_res50_ap10k.py')
AP10K_META = 'configs/_base_/datasets/ap10k.py'
COCO_META = 'configs/_base_/datasets/coco.py'
AP10K_FIRST = ['left eye', 'right eye', 'nose', 'neck', 'root of tail']
COCO_FIRST = ['nose', 'left eye', 'right eye', 'left ear', 'right ear']
FOUR = ['snout', 'neck', 'tailbase', 'paw']


def downstream(tmp_path, request, base=RES50, model='', **dataset):
    """A 4-keypoint dataset config inheriting ``base`` by a relative path."""
    folder = str(tmp_path / 'mouse4')
    labels, meta = request.getfixturevalue('four_keypoint_dataset')(folder)
    path = request.getfixturevalue('dataset_config')(
        osp.join(folder, 'mouse4_config.py'),
        osp.relpath(base, folder),
        labels,
        dataset.pop('metainfo', meta),
        AP10K,
        model=model,
        **dataset)
    return path, meta


def build_plain(model_cfg):
    """MMPose's own MODELS.build, no plugin helper, no weights loaded."""
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    model_cfg = dict(model_cfg)
    for part in ('backbone', 'neck'):
        if model_cfg.get(part) is not None:
            model_cfg[part] = dict(model_cfg[part], init_cfg=None)
    return MODELS.build(model_cfg)


def test_the_paper_config_states_its_dataset_once():
    cfg = Config.fromfile(RES50)
    assert 'runner_type' not in cfg
    assert cfg.model.type == 'PromptPoseEstimator'
    assert cfg.model.metainfo == dict(from_file=AP10K_META)
    assert cfg.train_dataloader.dataset.metainfo == cfg.model.metainfo
    assert cfg.val_dataloader.dataset.metainfo == cfg.model.metainfo
    assert 'metainfo' not in cfg.model.neck
    assert 'num_keypoints' not in cfg.model.neck
    assert cfg.model.head.out_channels is None
    resolved = apply_dataset_keypoints(cfg)
    assert resolved.model.neck.metainfo == dict(from_file=AP10K_META)
    assert resolved.model.neck.num_keypoints == 17
    assert resolved.model.head.out_channels == 17
    # the input is not modified
    assert cfg.model.head.out_channels is None
    where, _, names = dataset_keypoints(cfg)
    assert where.startswith('train_dataloader.dataset.metainfo')
    assert names[:5] == AP10K_FIRST


def test_plain_mmpose_builds_the_tiny_config_from_its_metainfo():
    model = build_plain(Config.fromfile(TINY).model)
    assert model.neck.keypoint_names[:5] == AP10K_FIRST
    assert model.head.final_layer.out_channels == 17
    assert model.metainfo['num_keypoints'] == 17
    assert model.metainfo['dataset_name'] == 'ap10k'


@pytest.mark.slow  # builds the ResNet-50 model
def test_four_keypoint_dataset_stated_once(tmp_path, request):
    path, meta = downstream(tmp_path, request)
    text = open(path).read()
    for restated in ('neck', 'head', 'out_channels', 'num_keypoints'):
        assert restated not in text
    assert text.count(meta) == 1  # one metainfo variable
    model = load_config(path).model
    assert model.neck.metainfo == dict(from_file=meta)
    assert model.neck.num_keypoints == 4
    assert model.head.out_channels == 4
    built = build_random_model(Config.fromfile(path))
    assert built.neck.keypoint_names == FOUR
    assert built.head.final_layer.out_channels == 4
    plain = build_plain(Config.fromfile(path).model)
    assert plain.neck.keypoint_names == FOUR
    assert plain.head.final_layer.out_channels == 4


def test_simplebaseline_twin_follows_too(tmp_path, request):
    base = osp.join(CONFIGS, 'promptpose',
                    'td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py')
    path, _ = downstream(tmp_path, request, base=base)
    model = load_config(path).model
    assert model.neck is None
    assert model.head.type == 'HeatmapHead'
    assert model.head.out_channels == 4


def test_coco_dataset_with_ap10k_prompt_names_is_refused():
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'promptpose',
                 'td-hm_promptpose-clip-rn50_8xb64-210e_coco-256x192.py'))
    assert cfg.model.metainfo == dict(from_file=COCO_META)
    assert apply_dataset_keypoints(cfg).model.neck.metainfo == dict(
        from_file=COCO_META)
    cfg.model.neck.metainfo = dict(from_file=AP10K_META)
    for build in (apply_dataset_keypoints, lambda c: build_plain(c.model)):
        with pytest.raises(KeypointConfigError) as error:
            build(cfg)
        message = str(error.value)
        # both sides named: the prompts' file and the other, with names
        assert AP10K_META in message and COCO_META in message
        assert str(AP10K_FIRST[:2])[1:-1] in message
        assert str(COCO_FIRST[:2])[1:-1] in message
        assert 'Remove neck.metainfo' in message


def test_matching_explicit_values_are_kept(tmp_path, request):
    path, meta = downstream(
        tmp_path,
        request,
        model="neck=dict(keypoint_names=['a', 'b', 'c', 'd'],"
        ' num_keypoints=4), head=dict(out_channels=4)')
    model = load_config(path).model
    assert model.neck.keypoint_names == ['a', 'b', 'c', 'd']
    assert model.neck.get('metainfo') is None
    assert model.head.out_channels == 4


@pytest.mark.parametrize('override, match', [
    ('head=dict(out_channels=17)',
     r'head.out_channels=17 but .*mouse4.* has 4 keypoints'),
    ('neck=dict(num_keypoints=17)',
     r'neck.num_keypoints=17 but .*mouse4.* has 4'),
    ("neck=dict(keypoint_names=['a', 'b'])",
     r'keypoint_names \(its length\)=2 but .*mouse4.* has 4'),
    (f'neck=dict(metainfo=dict(from_file={AP10K_META!r}))',
     r'prompt names disagree: neck.metainfo'),
])
def test_disagreeing_model_values_are_errors(tmp_path, request, override,
                                             match):
    path, _ = downstream(tmp_path, request, model=override)
    with pytest.raises(KeypointConfigError, match=match):
        load_config(path)
    # plain MMPose refuses the same model at build time
    with pytest.raises(KeypointConfigError, match=match):
        build_plain(Config.fromfile(path).model)


def test_a_model_left_on_another_dataset_is_named(tmp_path, request):
    """A downstream config that changes the data but not the model's
    metainfo: refused, both sides named, with the fix."""
    path, meta = downstream(tmp_path, request, base=TINY, state_model=False)
    with pytest.raises(KeypointConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert 'ap10k.py' in message and meta in message
    assert 'names 17' in message and 'names 4' in message
    assert 'model=dict(metainfo=...)' in message


def test_train_and_val_datasets_must_agree(tmp_path, request):
    path, _ = downstream(tmp_path, request)
    cfg = Config.fromfile(path)
    cfg.val_dataloader = dict(
        dataset=dict(
            type='AP10KDataset', data_root=AP10K, ann_file='test_ap10k.json'))
    with pytest.raises(KeypointConfigError) as error:
        apply_dataset_keypoints(cfg)
    message = str(error.value)
    assert 'train_dataloader.dataset.metainfo' in message
    assert 'val_dataloader.dataset (AP10KDataset' in message
    assert 'has 4' in message and 'has 17' in message


def test_dataset_wrappers_and_missing_metainfo():
    cfg = Config(
        dict(
            model=dict(head=dict(out_channels=None)),
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset',
                    times=2,
                    dataset=dict(
                        type='AP10KDataset',
                        metainfo=dict(from_file=COCO_META))))))
    assert apply_dataset_keypoints(cfg).model.head.out_channels == 17
    where, _, names = dataset_keypoints(cfg)
    assert where == ('train_dataloader.dataset.dataset.metainfo '
                     f'({COCO_META!r})')
    assert names[:5] == COCO_FIRST
    cfg.train_dataloader.dataset.dataset = dict(type='BaseDataset')
    with pytest.raises(KeypointConfigError, match='has no METAINFO'):
        apply_dataset_keypoints(cfg)
    # no dataloader (an inference-only config): nothing to follow
    bare = Config(dict(model=dict(head=dict(out_channels=5))))
    assert apply_dataset_keypoints(bare) is bare


def test_a_model_built_without_metainfo_says_how():
    cfg = Config.fromfile(TINY)
    cfg.model.metainfo = None
    with pytest.raises(
            ValueError, match='PromptPoseEstimator needs the '
            'metainfo') as error:
        build_plain(cfg.model)
    assert "from_file='configs/_base_/datasets/ap10k.py'" in str(error.value)
    cfg.model.type = 'TopdownPoseEstimator'
    with pytest.raises(
            ValueError,
            match='PromptPoseNeck needs the keypoint '
            'names.*metainfo=dict'):
        build_plain(cfg.model)


def test_runner_stops_before_the_first_iteration(tmp_path, request):
    """MMEngine's own Runner (as mim train builds it) with a model left on
    AP-10K and 4-keypoint data: DatasetKeypointsHook raises before any
    step, naming both. (The same data with the model stated trains in
    test_mim_train_four_keypoints_from_the_res50_paper_config and in
    tests/test_configs/test_checkpoint_real_runs.py.)"""
    from mmengine.runner import Runner
    path, meta = downstream(tmp_path, request, base=TINY, state_model=False)
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(KeypointConfigError) as error:
        runner.train()
    assert runner.iter == 0
    message = str(error.value)
    assert "model.metainfo ('configs/_base_/datasets/ap10k.py')" in message
    assert f'train_dataloader.dataset.metainfo ({meta!r})' in message
    assert str(FOUR)[1:-1] in message
    with pytest.raises(KeypointConfigError):
        Runner.from_cfg(cfg).test()


@pytest.mark.slow
def test_mim_train_four_keypoints_from_the_res50_paper_config(
        tmp_path, request, mim):
    """A downstream run: a 4-keypoint dataset, the ResNet-50 paper config
    inherited by a relative path, only the dataset overridden (the budget
    and the offline weights on the command line) trains, and the config
    the runner dumps holds K = 4."""
    path, meta = downstream(tmp_path, request)
    work_dir = str(tmp_path / 'work')
    loader = ('num_workers=0', 'persistent_workers=False', 'batch_size=2')
    out = mim(
        'train',
        'mmpose',
        path,
        '--work-dir',
        work_dir,
        '--cfg-options',
        'model.backbone.init_cfg=None',
        'model.neck.init_cfg=None',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
        *[
            f'{split}_dataloader.{option}' for split in ('train', 'val')
            for option in loader
        ],
        cwd=str(tmp_path))
    assert 'Training finished successfully' in out
    assert "'coco/AP'" in out or 'coco/AP:' in out
    dumped = Config.fromfile(osp.join(work_dir, 'mouse4_config.py'))
    assert dumped.model.metainfo == dict(from_file=meta)
    assert dumped.train_dataloader.dataset.metainfo == dict(from_file=meta)
