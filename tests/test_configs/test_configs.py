"""Every shipped config builds, trains one step and predicts with flip test.

Random weights (no download): the ``PretrainedCLIP`` (and ``Pretrained``)
inits are switched off, the rest of each config (model, codec, pipelines,
optimizer) is used as is, on the bundled AP-10K samples.

The full-size networks are fewer than the configs: a paper config's network
follows from its model, backbone and whether it is the COCO pre-training
(the schedules, few-shot data and COCO initialisation change only the data
and the recipe, checked in test_recipes.py). Each network trains one step
and predicts once, with the first config that has it; every config's own
data pipelines and model settings are checked against that network's.
"""
import os.path as osp
import re
from functools import lru_cache

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

import promptpose_mm  # noqa: F401
from promptpose_mm.engine import apply_dataset_keypoints
from tests.paths import AP10K, CONFIG_DIR, CONFIG_FILES, ROOT
from tests.test_configs.recipes import COCO, RECIPES, SB

CONFIGS = CONFIG_FILES


def config_id(path: str) -> str:
    return osp.relpath(path, osp.join(ROOT, 'configs'))


def load_offline(path: str) -> Config:
    """The config with CLIP loading switched off and the bundled data."""
    cfg = Config.fromfile(path)
    for part in ('backbone', 'neck'):
        if cfg.model.get(part):
            cfg.model[part].init_cfg = None
    cfg.load_from = None
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = cfg[loader].dataset
        dataset.data_root = AP10K
        dataset.ann_file = 'test_ap10k.json'
        dataset.data_prefix = dict(img='')
        dataset.pop('bbox_file', None)
    cfg.val_dataloader.dataset.test_mode = True
    return apply_dataset_keypoints(cfg)


def batch_of(dataset_cfg) -> dict:
    dataset = DATASETS.build(dataset_cfg)
    return pseudo_collate([dataset[0], dataset[1]])


def train_one_step(model, cfg, optim_wrapper) -> tuple:
    """One training step on two of the config's training samples: the
    losses (``{name: value}``) and the names of the parameters it
    changed."""
    before = {
        name: param.detach().clone()
        for name, param in model.named_parameters() if param.requires_grad
    }
    model.train()
    log_vars = model.train_step(
        batch_of(cfg.train_dataloader.dataset), optim_wrapper)
    losses = {k: v for k, v in log_vars.items() if k.startswith('loss')}
    changed = [
        name for name, param in model.named_parameters()
        if name in before and not torch.equal(param, before[name])
    ]
    return losses, changed


def test_every_config_is_covered():
    names = {config_id(path) for path in CONFIGS}
    assert 'promptpose_res50_ap10k.py' in names
    assert 'promptpose_vit-b_ap10k.py' in names
    assert 'promptpose_tiny_ap10k.py' in names
    # every paper config (the rows of the paper's tables) trains and predicts
    paper = {f'promptpose/{name}.py' for name in RECIPES}
    assert len(paper) == 29
    assert paper <= names
    assert len(names) >= 34


def network_key(path: str) -> tuple:
    """What decides a config's network, from its name: the paper recipe's
    model and backbone, and for PromptPose whether its prompts name COCO's
    keypoints; a top-level config is the paper or tiny config it only
    inherits; each other (tiny) config is its own."""
    if osp.dirname(path) == CONFIG_DIR:
        base = re.findall(r"_base_ = \[\s*'\./(promptpose/[^']+)'\s*\]",
                          open(path).read())
        if base:
            return network_key(osp.join(CONFIG_DIR, base[0]))
    row = RECIPES.get(osp.basename(path)[:-3])
    if row is None:
        return (config_id(path), )
    return (row.model, row.backbone, row.model != SB and row.data == COCO)


def network_config(path: str) -> str:
    """The first config (in :data:`CONFIGS` order) with ``path``'s
    network."""
    key = network_key(path)
    return next(other for other in CONFIGS if network_key(other) == key)


@lru_cache(maxsize=None)
def network_settings(path: str) -> str:
    """The model config but what the data sets (K, the keypoint names),
    the weights' sources, the decoder and the input size (the ResNets are
    convolutional; the ViT resizes its position embedding, at both sizes in
    tests/test_models/test_backbones.py): equal for configs sharing a
    network."""
    model = load_offline(path).model.to_dict()
    model.pop('metainfo', None)
    model['head'].pop('decoder', None)
    model['backbone'].pop('input_size', None)
    for part in ('backbone', 'neck'):
        if model.get(part):
            model[part].pop('init_cfg', None)
    return repr(sorted(model.items()))


NETWORKS = sorted({network_config(path) for path in CONFIGS})


def config_param(path: str):
    """The config as a test parameter: slow unless a tiny CPU config (the
    others build the full-size ResNet-50 / ViT-B/16 models)."""
    marks = () if 'tiny' in osp.basename(path) else pytest.mark.slow
    return pytest.param(path, marks=marks, id=config_id(path))


def test_ten_full_size_networks():
    full = [path for path in NETWORKS if 'tiny' not in path]
    # 5 architectures; PromptPose ResNet-50 with 3 ablations and both
    # PromptPose with COCO's prompts
    assert len(full) == 10
    assert len(NETWORKS) == 13  # and 3 tiny ones


@pytest.mark.parametrize('path', [config_param(path) for path in CONFIGS])
def test_config_pipelines_and_network(path):
    """The config's network is the one its name says (trained in the
    test below with the first config that has it); its own pipelines give
    inputs and heatmap targets at its codec's sizes; flip test on."""
    init_default_scope('mmpose')
    cfg = load_offline(path)
    assert 'promptpose_mm' in cfg.custom_imports['imports']
    assert network_settings(path) == network_settings(network_config(path))
    codec = cfg.model.head.decoder
    num_keypoints = cfg.model.head.out_channels
    width, height = codec.input_size
    train = batch_of(cfg.train_dataloader.dataset)
    for inputs, sample in zip(train['inputs'], train['data_samples']):
        assert tuple(inputs.shape) == (3, height, width)
        assert tuple(
            sample.gt_fields.heatmaps.shape) == (num_keypoints,
                                                 codec.heatmap_size[1],
                                                 codec.heatmap_size[0])
    val = batch_of(cfg.val_dataloader.dataset)
    for inputs in val['inputs']:
        assert tuple(inputs.shape) == (3, height, width)
    assert cfg.model.test_cfg.flip_test


@pytest.mark.parametrize('path', [config_param(path) for path in NETWORKS])
def test_config_trains_one_step_and_predicts_with_flip(path):
    init_default_scope('mmpose')
    torch.manual_seed(0)
    cfg = load_offline(path)
    assert 'promptpose_mm' in cfg.custom_imports['imports']
    model = MODELS.build(cfg.model)
    model.init_weights()
    num_keypoints = cfg.model.head.out_channels

    losses, changed = train_one_step(
        model, cfg, build_optim_wrapper(model, cfg.optim_wrapper))
    assert losses and all(torch.isfinite(v) for v in losses.values())
    if cfg.model.get('neck') is not None:
        assert {'loss_kpt', 'loss_pixel', 'loss_semantic'} & set(losses)
    assert any(name.startswith('head.') for name in changed)
    frozen = [
        name for name, param in model.named_parameters()
        if '.text_encoder.clip.' in name
    ]
    assert not set(frozen) & set(changed)

    assert cfg.model.test_cfg.flip_test
    model.eval()
    with torch.no_grad():
        results = model.val_step(batch_of(cfg.val_dataloader.dataset))
    assert len(results) == 2
    for result in results:
        keypoints = result.pred_instances.keypoints
        assert keypoints.shape == (1, num_keypoints, 2)
        assert result.pred_instances.keypoint_scores.shape == (1,
                                                               num_keypoints)


def test_udp_codec_trains_and_predicts_with_flip():
    """The head decodes with any MMPose heatmap codec: UDP instead of MSRA,
    with the UDP affine transform, through the same config machinery."""
    init_default_scope('mmpose')
    torch.manual_seed(0)
    cfg = load_offline(osp.join(ROOT, 'configs', 'promptpose_tiny_ap10k.py'))
    codec = dict(
        type='UDPHeatmap',
        input_size=(256, 256),
        heatmap_size=(64, 64),
        sigma=2)
    cfg.model.head.decoder = codec
    for loader in ('train_dataloader', 'val_dataloader'):
        for step in cfg[loader].dataset.pipeline:
            if step.type == 'TopdownAffine':
                step.use_udp = True
            if step.type == 'GenerateTarget':
                step.encoder = codec
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    log_vars = model.train_step(
        batch_of(cfg.train_dataloader.dataset), optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    model.eval()
    with torch.no_grad():
        results = model.val_step(batch_of(cfg.val_dataloader.dataset))
    assert model.head.decoder.__class__.__name__ == 'UDPHeatmap'
    assert results[0].pred_instances.keypoints.shape == (1, 17, 2)
