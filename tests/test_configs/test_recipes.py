"""Every paper config trains as the paper and the published code train.

``RECIPES`` (in ``recipes.py``, beside this module) is the paper's recipe
(section 4.1, with the readings docs/method.md states), one row per paper
config: every config under ``configs/promptpose`` but the tiny CPU
ones. The tests read each config and
check its optimizer, learning rate, effective batch, schedule, losses,
pretrained weights and data against its row, and build the optimizer of each
architecture to list which parameters decay.
"""
import glob
import logging
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS
from torch import nn

import promptpose_mm  # noqa: F401
from promptpose_mm.engine import apply_dataset_keypoints
from tests.paths import PROMPTPOSE_CONFIGS
from tests.test_configs.recipes import (COCO, FULL, IN50, PP, R50, RECIPES, SB,
                                        SHOT, T1, T2, T3, T4, T5, VIT)

PROMPTPOSE = PROMPTPOSE_CONFIGS
BASE_CONFIG = 'td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256'

# The paper's schedule, a scheduler a row: 210 epochs, a linear warm-up over
# the first 500 iterations from x0.001, x0.1 at epochs 170 and 200.
SCHEDULE = (
    # type, by_epoch, begin, end, its own settings
    ('LinearLR', False, 0, 500, {
        'start_factor': 0.001
    }),
    ('MultiStepLR', True, 0, 210, {
        'milestones': [170, 200],
        'gamma': 0.1
    }),
)


def scheduler_rows(schedulers) -> list:
    """``param_scheduler`` entries as rows of :data:`SCHEDULE`."""
    rows = []
    for scheduler in schedulers:
        scheduler = dict(scheduler)
        row = tuple(
            scheduler.pop(key) for key in ('type', 'by_epoch', 'begin', 'end'))
        rows.append((*row, scheduler))
    return rows


PRETRAINED = {
    R50: 'open_clip://RN50/openai',
    VIT: 'open_clip://ViT-B-16/openai',
    IN50: 'torchvision://resnet50',
}
# CLIP weights have their own init type; ImageNet weights are MMEngine's.
INIT_TYPE = {R50: 'PretrainedCLIP', VIT: 'PretrainedCLIP', IN50: 'Pretrained'}
TRAIN_ANN = {
    FULL: 'annotations/ap10k-train-split1.json',
    SHOT: 'annotations/ap10k-train-split1-20shot.json',
    COCO: 'annotations/person_keypoints_train2017.json',
}
# loss = L_pred + a1 L_semantic + a2 L_pixel: a1 = 5e-4, a2 = 0.4 / 2.0
PIXEL_WEIGHT = {R50: 0.4, VIT: 2.0}
SEMANTIC_WEIGHT = 5e-4
# (semantic-level loss, prompt encoder) of PromptPose and its ablations
PARTS = {
    PP: (True, True),
    'pixel': (False, False),
    'pixel-semantic': (True, False),
    'pixel-promptenc': (False, True),
}
NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


def paper_configs() -> list:
    return sorted(
        osp.basename(path)[:-len('.py')]
        for path in glob.glob(osp.join(PROMPTPOSE, '*.py'))
        if 'tiny' not in osp.basename(path))


def load(name: str) -> Config:
    return Config.fromfile(osp.join(PROMPTPOSE, name + '.py'))


def expected_paramwise(backbone: str) -> dict:
    """No decay on biases and norms (plus the packed attention bias); the
    ViT backbone at lr x 0.1, its attention biases too."""
    custom_keys = {'in_proj_bias': dict(decay_mult=0.)}
    if backbone == VIT:
        custom_keys['backbone'] = dict(lr_mult=0.1)
        for i in range(12):
            custom_keys[f'resblocks.{i}.attn.in_proj_bias'] = dict(
                lr_mult=0.1, decay_mult=0.)
    return dict(
        bias_decay_mult=0.,
        norm_decay_mult=0.,
        custom_keys=custom_keys,
        force_default_settings=True)


def test_every_paper_config_has_a_row():
    assert paper_configs() == sorted(RECIPES)
    assert len(RECIPES) == 29
    # the paper's tables: 4 settings x 5 rows in Tables 1-4
    # (ViT-B has no ImageNet SimpleBaseline), 4 in Table 5 (its baseline is
    # Table 1's CLIP SimpleBaseline)
    assert sum(row.table in (T1, T2, T3, T4) for row in RECIPES.values()) == 20
    assert sum(row.table == T5 for row in RECIPES.values()) == 4


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_config_follows_the_papers_recipe(name):
    row = RECIPES[name]
    cfg = load(name)

    # the name says GPUs x batch per GPU and epochs, as MMPose names do
    gpus, per_gpu, epochs = map(
        int,
        re.search(r'_(\d+)xb(\d+)-(\d+)e_', name).groups())
    assert name.startswith(f'td-hm_{"" if row.model == SB else "promptpose-"}'
                           f'{row.backbone}')
    assert gpus == 8
    assert cfg.train_dataloader.batch_size == per_gpu
    assert gpus * per_gpu == row.batch
    assert cfg.auto_scale_lr.base_batch_size == row.batch

    # optimizer: AdamW, weight decay 1e-4, no decay on biases and norms
    optim = cfg.optim_wrapper
    assert optim.optimizer == dict(type='AdamW', lr=row.lr, weight_decay=1e-4)
    assert optim.get('clip_grad') is None
    assert optim.constructor == 'PromptPoseOptimWrapperConstructor'
    assert optim.paramwise_cfg == expected_paramwise(row.backbone)

    # schedule
    assert epochs == 210
    assert cfg.train_cfg.max_epochs == 210
    assert scheduler_rows(cfg.param_scheduler) == list(SCHEDULE)

    # model and losses
    model = cfg.model
    assert model.test_cfg.flip_test
    assert model.head.loss == dict(
        type='KeypointMSELoss', use_target_weight=True)
    # K follows the dataset: unset in the config, 17 once filled in
    assert model.head.out_channels is None
    assert model.neck is None or 'metainfo' not in model.neck
    resolved = apply_dataset_keypoints(cfg).model
    assert resolved.head.out_channels == 17
    if resolved.neck is not None:
        assert resolved.neck.num_keypoints == 17
        assert resolved.neck.metainfo.from_file.endswith(
            'ap10k.py' if row.data != COCO else 'coco.py')
    backbone_type = {
        R50: 'CLIPResNet',
        VIT: 'CLIPVisionTransformer',
        IN50: 'ResNet'
    }
    assert model.backbone.type == backbone_type[row.backbone]
    if row.backbone == VIT:
        assert model.backbone.drop_path_rate == 0.4
    if row.backbone == IN50:
        assert model.backbone.depth == 50
    if row.model == SB:
        assert model.neck is None
        assert model.head.type == 'HeatmapHead'
    else:
        semantic, prompt_encoder = PARTS[row.model]
        assert model.head.type == 'PromptPoseHead'
        assert model.head.pixel_loss.loss_weight == PIXEL_WEIGHT[row.backbone]
        if semantic:
            assert model.head.semantic_loss.loss_weight == SEMANTIC_WEIGHT
        else:
            assert model.head.semantic_loss is None
        assert (model.neck.get('prompt_encoder', {})
                is not None) == prompt_encoder

    # pretrained weights: CLIP / ImageNet, or the whole COCO model
    parts = [model.backbone] + ([model.neck] if model.neck else [])
    if row.coco_pre:
        source = name.replace('_coco-pre', '').replace('-20shot', '')
        coco = re.sub(r'_8xb\d+-210e_ap10k-256x256$',
                      '_8xb64-210e_coco-256x192', source)
        assert RECIPES[coco].data == COCO
        assert cfg.load_from == f'work_dirs/{coco}/epoch_210.pth'
        assert all(part.init_cfg is None for part in parts)
    else:
        assert cfg.get('load_from') is None
        for part in parts:
            assert part.init_cfg == dict(
                type=INIT_TYPE[row.backbone],
                checkpoint=PRETRAINED[row.backbone])

    # data: AP-10K split 1 evaluated on val (the paper's split), or COCO
    assert cfg.train_dataloader.dataset.ann_file == TRAIN_ANN[row.data]
    if row.data == COCO:
        assert cfg.train_dataloader.dataset.type == 'CocoDataset'
        assert cfg.codec.input_size == (192, 256)
    else:
        assert cfg.train_dataloader.dataset.type == 'AP10KDataset'
        assert cfg.val_dataloader.dataset.ann_file == (
            'annotations/ap10k-val-split1.json')
        assert cfg.codec.input_size == (256, 256)
    # augmentation: flip, half-body and RandomBBoxTransform with MMPose
    # 1.x's defaults
    steps = cfg.train_dataloader.dataset.pipeline
    assert [step.type for step in steps] == [
        'LoadImage', 'GetBBoxCenterScale', 'RandomFlip', 'RandomHalfBody',
        'RandomBBoxTransform', 'TopdownAffine', 'GenerateTarget',
        'PackPoseInputs'
    ]
    assert steps[4] == dict(type='RandomBBoxTransform')

    # the paper's ViT rates (2e-4, 5e-5) are the base rate, with the
    # backbone at 0.1 x it
    if row.backbone == VIT:
        assert optim.paramwise_cfg.custom_keys['backbone'] == dict(lr_mult=0.1)


@pytest.mark.parametrize(
    'name', [name for name, row in sorted(RECIPES.items()) if row.model != SB])
def test_promptpose_configs_exempt_biases_and_norms_from_decay(name):
    """What the weight-decay comment of the base config says: no decay on
    biases, normalisation layers (found by type) and
    nn.MultiheadAttention's packed ``in_proj_bias``."""
    paramwise = load(name).optim_wrapper.paramwise_cfg
    assert paramwise.bias_decay_mult == 0.
    assert paramwise.norm_decay_mult == 0.
    assert paramwise.custom_keys['in_proj_bias'] == dict(decay_mult=0.)


def test_base_config_augments_with_mmpose_1x_defaults():
    """What the augmentation comment of the base config says: flip,
    half-body and RandomBBoxTransform with MMPose 1.x's defaults."""
    steps = load(BASE_CONFIG).train_dataloader.dataset.pipeline
    types = [step.type for step in steps]
    assert types.index('RandomFlip') < types.index('RandomHalfBody') < (
        types.index('RandomBBoxTransform'))
    assert steps[types.index('RandomBBoxTransform')] == dict(
        type='RandomBBoxTransform')


# ---------------------------------------------------------------------------
# Which parameters decay
# ---------------------------------------------------------------------------
# parameters that decay without being a conv / linear / attention weight:
# what the published code decays too (it matches no 'bias' / 'norm' key)
# (the CLIP-space projection only where the model uses it: not in the
# SimpleBaselines)
CLIP_VIT_EXTRA = {
    'backbone.clip.class_embedding', 'backbone.clip.positional_embedding'
}
CLIP_RN50_SPACE = {'backbone.clip.attnpool.positional_embedding'}
CLIP_VIT_SPACE = CLIP_VIT_EXTRA | {'backbone.clip.proj'}
PROMPT_EXTRA = {'neck.text_encoder.context', 'neck.gamma'}
SEMANTIC_EXTRA = {'head.semantic_loss_module.logit_scale'}
DECAY_CASES = {
    'td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256':
    CLIP_RN50_SPACE | PROMPT_EXTRA | SEMANTIC_EXTRA,
    'td-hm_promptpose-clip-rn50-pixel_8xb16-210e_ap10k-256x256':
    CLIP_RN50_SPACE | PROMPT_EXTRA,
    'td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-20shot-256x256':
    CLIP_VIT_SPACE | PROMPT_EXTRA | SEMANTIC_EXTRA,
    'td-hm_clip-rn50_8xb16-210e_ap10k-256x256':
    set(),
    'td-hm_clip-vit-b16_8xb64-210e_coco-256x192':
    CLIP_VIT_EXTRA,
    'td-hm_res50_8xb16-210e_ap10k-256x256':
    set(),
}
WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.MultiheadAttention)


def optimizer_groups(cfg: Config) -> tuple:
    """The model (random weights) and, per trainable parameter name, its
    owning module and its (lr, weight decay) in the built optimizer."""
    init_default_scope('mmpose')
    torch.manual_seed(0)
    for part in ('backbone', 'neck'):
        if cfg.model.get(part):
            cfg.model[part].init_cfg = None
    model = MODELS.build(apply_dataset_keypoints(cfg).model)
    # the constructor logs every parameter's options: quiet
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    finally:
        logger.setLevel(level)
    options = {}
    for group in optim_wrapper.optimizer.param_groups:
        for param in group['params']:
            assert id(param) not in options
            options[id(param)] = (group['lr'], group['weight_decay'])
    owners, settings = {}, {}
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            full = f'{module_name}.{name}' if module_name else name
            if param.requires_grad:
                owners[full] = module
                settings[full] = options[id(param)]
    return owners, settings


@pytest.mark.slow  # builds the full-size models
@pytest.mark.parametrize('name', sorted(DECAY_CASES))
def test_only_weights_decay(name):
    row = RECIPES[name]
    owners, settings = optimizer_groups(load(name))
    decaying = {full for full, (_, decay) in settings.items() if decay == 1e-4}
    assert all(decay in (0, 1e-4) for _, decay in settings.values())
    # no bias, no norm-layer parameter decays
    for full, module in owners.items():
        no_decay = full.endswith('bias') or isinstance(module, NORMS)
        assert (full not in decaying) == no_decay, full
    # every other decaying parameter is a conv / linear / attention weight,
    # but for the listed embeddings, context vectors, gamma and logit scale
    weights = {
        full
        for full in decaying
        if full.endswith('weight') and isinstance(owners[full], WEIGHTED)
    }
    assert decaying - weights == DECAY_CASES[name]
    assert len(weights) > 50
    # what the published keys missed is covered: CLIP's bn*/ln_* layers and
    # nn.MultiheadAttention's packed bias
    exempt = set(settings) - decaying
    assert any(isinstance(owners[full], nn.BatchNorm2d) for full in exempt)
    if row.backbone == VIT or row.model != SB:
        assert any(isinstance(owners[full], nn.LayerNorm) for full in exempt)
    attention_biases = [
        full for full in owners if full.endswith('.attn.in_proj_bias')
    ]
    assert set(attention_biases) <= exempt
    # the ViT's 12 blocks, the prompt encoder's one
    with_prompt_encoder = PARTS.get(row.model, (False, False))[1]
    assert len(attention_biases) == (12 * (row.backbone == VIT) +
                                     with_prompt_encoder)
    # learning rates: the ViT backbone at 0.1 x the base rate, all else at it
    for full, (lr, _) in settings.items():
        scale = 0.1 if (row.backbone == VIT
                        and full.startswith('backbone.')) else 1.0
        assert lr == pytest.approx(row.lr * scale), full
