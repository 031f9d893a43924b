"""A downstream config states its dataset once; the model's keypoints follow
(issue 12, item 2): promptpose_mm.engine.apply_dataset_keypoints and the
PromptPoseRunner that mim train / mim test build."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import RUNNERS, init_default_scope

import promptpose_mm  # noqa: F401
from promptpose_mm.apis import build_random_model, load_config
from promptpose_mm.engine import (KeypointConfigError, PromptPoseRunner,
                                  apply_dataset_keypoints, dataset_keypoints)
from tests.paths import AP10K, CONFIG_DIR, TINY

CONFIGS = CONFIG_DIR
RES50 = osp.join(CONFIGS, 'promptpose_res50_ap10k.py')
AP10K_META = 'configs/_base_/datasets/ap10k.py'
COCO_META = 'configs/_base_/datasets/coco.py'
AP10K_FIRST = ['left eye', 'right eye', 'nose', 'neck', 'root of tail']
COCO_FIRST = ['nose', 'left eye', 'right eye', 'left ear', 'right ear']


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


def test_the_paper_config_leaves_the_keypoints_to_its_dataset():
    cfg = Config.fromfile(RES50)
    assert cfg.runner_type == 'PromptPoseRunner'
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
    assert where.startswith('train_dataloader.dataset (AP10KDataset')
    assert names[:5] == AP10K_FIRST


@pytest.mark.slow  # builds the ResNet-50 model
def test_four_keypoint_dataset_stated_once(tmp_path, request):
    path, meta = downstream(tmp_path, request)
    text = open(path).read()
    for restated in ('neck', 'head', 'out_channels', 'num_keypoints'):
        assert restated not in text
    model = load_config(path).model
    assert model.neck.metainfo == dict(from_file=meta)
    assert model.neck.num_keypoints == 4
    assert model.head.out_channels == 4
    built = build_random_model(Config.fromfile(path))
    assert built.neck.keypoint_names == ['snout', 'neck', 'tailbase', 'paw']
    assert built.head.final_layer.out_channels == 4


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
    assert apply_dataset_keypoints(cfg).model.neck.metainfo == dict(
        from_file=COCO_META)
    cfg.model.neck.metainfo = dict(from_file=AP10K_META)
    with pytest.raises(KeypointConfigError) as error:
        apply_dataset_keypoints(cfg)
    message = str(error.value)
    # both sides named: the prompts' file and the dataset's, with names
    assert AP10K_META in message and 'CocoDataset' in message
    assert COCO_META in message
    assert str(AP10K_FIRST[:2])[1:-1] in message
    assert str(COCO_FIRST[:2])[1:-1] in message
    assert 'Remove model.neck.metainfo' in message


def test_matching_explicit_values_are_kept(tmp_path, request):
    path, meta = downstream(
        tmp_path,
        request,
        model="model = dict(neck=dict(keypoint_names=['a', 'b', 'c', 'd'],"
        ' num_keypoints=4), head=dict(out_channels=4))')
    model = load_config(path).model
    assert model.neck.keypoint_names == ['a', 'b', 'c', 'd']
    assert model.neck.get('metainfo') is None
    assert model.head.out_channels == 4


@pytest.mark.parametrize('override, match', [
    ('model = dict(head=dict(out_channels=17))',
     r'model.head.out_channels=17 but the dataset .* has 4 keypoints'),
    ('model = dict(neck=dict(num_keypoints=17))',
     r'model.neck.num_keypoints=17 but the dataset .* has 4'),
    ("model = dict(neck=dict(keypoint_names=['a', 'b']))",
     r'keypoint_names \(its length\)=2 but the dataset .* has 4'),
    (f'model = dict(neck=dict(metainfo=dict(from_file={AP10K_META!r})))',
     r'prompt names disagree with the dataset: model.neck.metainfo'),
])
def test_disagreeing_model_values_are_errors(tmp_path, request, override,
                                             match):
    path, _ = downstream(tmp_path, request, model=override)
    with pytest.raises(KeypointConfigError, match=match):
        load_config(path)


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


def test_a_model_built_without_its_dataset_says_how():
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cfg = Config.fromfile(TINY)
    with pytest.raises(ValueError, match='promptpose_mm.apis.init_model'):
        MODELS.build(cfg.model)


def test_runner_refuses_before_building_the_model(tmp_path, monkeypatch):
    """mim train builds RUNNERS.build(cfg) (runner_type): the error comes
    from PromptPoseRunner.from_cfg, before the model or data exist."""
    cfg = Config.fromfile(TINY)
    cfg.model.neck.metainfo = dict(from_file=COCO_META)
    cfg.work_dir = str(tmp_path)
    built = []
    monkeypatch.setattr(PromptPoseRunner, '__init__',
                        lambda self, **kwargs: built.append(kwargs))
    with pytest.raises(KeypointConfigError, match='prompt names disagree'):
        RUNNERS.build(cfg)
    assert not built
    cfg.model.neck.metainfo = None
    runner = RUNNERS.build(cfg)
    assert isinstance(runner, PromptPoseRunner)
    assert built[0]['model']['head']['out_channels'] == 17
    assert built[0]['cfg'].model.neck.num_keypoints == 17


def test_plain_runner_from_cfg_follows_the_dataset(tmp_path, monkeypatch):
    """MMPose 1.3's tools/train.py calls Runner.from_cfg and ignores
    runner_type: the plugin's wrapper fills the keypoints in there too, for
    PromptPose configs only."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(TINY)
    cfg.work_dir = str(tmp_path)
    built = []
    monkeypatch.setattr(Runner, '__init__',
                        lambda self, **kwargs: built.append(kwargs))
    runner = Runner.from_cfg(cfg)
    assert type(runner) is Runner
    assert built[0]['model']['head']['out_channels'] == 17
    cfg.model.neck.metainfo = dict(from_file=COCO_META)
    with pytest.raises(KeypointConfigError, match='prompt names disagree'):
        Runner.from_cfg(cfg)
    # a config that is not a PromptPose one passes untouched
    other = Config.fromfile(TINY)
    other.work_dir = str(tmp_path)
    other.pop('runner_type')
    Runner.from_cfg(other)
    assert built[-1]['model']['head']['out_channels'] is None


@pytest.mark.slow
def test_mim_train_four_keypoints_from_the_res50_paper_config(
        tmp_path, request, mim):
    """The issue's run: a 4-keypoint dataset, the ResNet-50 paper config
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
    assert dumped.model.head.out_channels == 4
    assert dumped.model.neck.num_keypoints == 4
    assert dumped.model.neck.metainfo == dict(from_file=meta)


@pytest.mark.slow
def test_mim_train_refuses_coco_with_ap10k_prompts(tmp_path, request, mim):
    base = osp.join(CONFIGS, 'promptpose',
                    'td-hm_promptpose-clip-rn50_8xb64-210e_coco-256x192.py')
    path = tmp_path / 'coco_with_ap10k_prompts.py'
    path.write_text(f'_base_ = [{base!r}]\n'
                    'model = dict(neck=dict(metainfo=dict('
                    f'from_file={AP10K_META!r})))\n')
    with pytest.raises(AssertionError) as error:
        mim('train',
            'mmpose',
            str(path),
            '--work-dir',
            str(tmp_path / 'work'),
            cwd=str(tmp_path))
    assert 'KeypointConfigError' in str(error.value)
    assert 'prompt names disagree with the dataset' in str(error.value)
