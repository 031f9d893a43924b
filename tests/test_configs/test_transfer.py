"""COCO -> AP-10K transfer: positional embeddings follow the input size.

A model trained on 256x192 COCO crops (ResNet attention pool 8x6, ViT
16x12) loads into a 256x256 AP-10K model (8x8, 16x16) through MMEngine's
``load_checkpoint`` and the runner's ``load_from``: the embeddings are
resized bilinearly, nothing is reported as mismatched. Plus the COCO and
COCO-pretrained configs (Tables 3 and 4).
"""
import copy
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (load_checkpoint, load_state_dict,
                                        save_checkpoint)
from mmpose.registry import MODELS

from promptpose_mm.engine import apply_dataset_keypoints
from promptpose_mm.models.backbones import CLIPResNet
from promptpose_mm.models.clip import CLIPWeightsError, resize_pos_embed
from promptpose_mm.testing import (TINY_CLIP_SPECS, build_tiny_clip,
                                   save_clip_state_dict)
from tests.paths import PROMPTPOSE_CONFIGS

CONFIGS = PROMPTPOSE_CONFIGS
COCO_NAMES = [
    'nose', 'left eye', 'right eye', 'left ear', 'right ear', 'left shoulder',
    'right shoulder', 'left elbow', 'right elbow', 'left wrist', 'right wrist',
    'left hip', 'right hip', 'left knee', 'right knee', 'left ankle',
    'right ankle'
]
# (W, H) of a COCO crop and of an AP-10K crop.
COCO_SIZE, AP10K_SIZE = (192, 256), (256, 256)
# Where the positional embedding is in the pose model, and the grids
# (h, w) at 256x192 and 256x256.
POS_KEYS = dict(
    resnet='backbone.clip.attnpool.positional_embedding',
    vit='backbone.clip.positional_embedding')
GRIDS = dict(resnet=((8, 6), (8, 8)), vit=((16, 12), (16, 16)))


@pytest.fixture(scope='module')
def tiny_cfg(tiny_config):
    init_default_scope('mmpose')
    return tiny_config('resnet')


def tiny_pose_cfg(base: Config, kind: str, input_size, coco=False) -> Config:
    """The tiny PromptPose config with a ``kind`` backbone at
    ``input_size`` (W, H), prompts from COCO's names if ``coco``."""
    cfg = copy.deepcopy(base)
    model = cfg.model
    width, height = input_size
    codec = dict(
        cfg.codec,
        input_size=input_size,
        heatmap_size=(width // 4, height // 4))
    model.head.decoder = codec
    if kind == 'vit':
        # not the tiny ViT config (tests.paths.TINY_CONFIGS['vit']): its
        # pixel branch deconvolves to K channels, this one to 32 (kept, so
        # the model tested here is unchanged)
        spec = TINY_CLIP_SPECS['vit']
        vision = spec['vision']
        model.backbone = dict(
            type='CLIPVisionTransformer',
            patch_size=vision['patch_size'],
            width=vision['width'],
            layers=vision['layers'],
            head_width=vision['head_width'],
            embed_dim=spec['embed_dim'],
            out_indices=(1, ),
            init_cfg=None)
        model.head.in_channels = vision['width']
        model.head.deconv_out_channels = (32, 32)
        model.head.deconv_kernel_sizes = (4, 4)
        model.head.pixel_deconv_out_channels = (32, 32)
    model.backbone.input_size = input_size
    # the model's dataset: the prompts are its keypoint names
    model.metainfo = dict(
        from_file=f'configs/_base_/datasets/{"coco" if coco else "ap10k"}.py')
    return cfg


def build_model(cfg: Config, seed: int = 0, init: bool = True):
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    if init:
        model.init_weights()
    return model.eval()


def tiny_backbone(input_size) -> CLIPResNet:
    vision = TINY_CLIP_SPECS['resnet']['vision']
    return CLIPResNet(
        layers=vision['layers'],
        width=vision['width'],
        head_width=vision['head_width'],
        embed_dim=TINY_CLIP_SPECS['resnet']['embed_dim'],
        input_size=input_size)


POS_KEY = 'clip.attnpool.positional_embedding'


# ---------------------------------------------------------------------------
# Tiny models: COCO 256x192 checkpoint -> AP-10K 256x256 model
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('kind', ['resnet', 'vit'])
def test_load_checkpoint_resizes_pos_embed(tiny_cfg, tmp_path, kind):
    src_grid, dst_grid = GRIDS[kind]
    source = build_model(
        tiny_pose_cfg(tiny_cfg, kind, COCO_SIZE, coco=True), seed=1)
    assert source.neck.keypoint_names == COCO_NAMES
    state = source.state_dict()
    assert state['backbone.pos_embed_grid'].tolist() == list(src_grid)
    assert state[POS_KEYS[kind]].shape[0] == 1 + src_grid[0] * src_grid[1]
    path = str(tmp_path / 'coco.pth')
    save_checkpoint(dict(state_dict=state, meta=dict()), path)

    target = build_model(tiny_pose_cfg(tiny_cfg, kind, AP10K_SIZE), seed=2)
    # strict: any missing/unexpected key or size mismatch would raise
    load_checkpoint(target, path, map_location='cpu', strict=True)
    loaded = target.state_dict()
    expected = resize_pos_embed(state[POS_KEYS[kind]], src_grid, dst_grid)
    assert loaded[POS_KEYS[kind]].shape == (1 + dst_grid[0] * dst_grid[1],
                                            state[POS_KEYS[kind]].shape[1])
    torch.testing.assert_close(loaded[POS_KEYS[kind]], expected)
    assert loaded['backbone.pos_embed_grid'].tolist() == list(dst_grid)
    for key, value in state.items():
        if key not in (POS_KEYS[kind], 'backbone.pos_embed_grid'):
            assert torch.equal(loaded[key], value), key
    # prompts follow the target's dataset, the learned context transfers
    assert target.neck.keypoint_names[0] == 'left eye'
    with torch.no_grad():
        heatmaps = target(torch.randn(1, 3, 256, 256), None, mode='tensor')
    assert heatmaps.shape == (1, 17, 64, 64)
    assert torch.isfinite(heatmaps).all()


class _Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelno, record.getMessage()))


def test_runner_load_from_resizes_without_warnings(tiny_cfg, tmp_path):
    source = build_model(
        tiny_pose_cfg(tiny_cfg, 'resnet', COCO_SIZE, coco=True), seed=1)
    path = str(tmp_path / 'coco.pth')
    save_checkpoint(dict(state_dict=source.state_dict(), meta=dict()), path)

    cfg = copy.deepcopy(tiny_cfg)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = path
    runner = Runner.from_cfg(cfg)
    records = _Records()
    runner.logger.addHandler(records)
    try:
        runner.load_or_resume()
    finally:
        runner.logger.removeHandler(records)
    warnings = [msg for level, msg in records.messages if level >= 30]
    assert not warnings
    infos = ' '.join(msg for _, msg in records.messages)
    assert 'resized backbone.clip.attnpool.positional_embedding from a ' \
           '8x6 grid to 8x8' in infos
    loaded = runner.model.state_dict()[POS_KEYS['resnet']]
    expected = resize_pos_embed(source.state_dict()[POS_KEYS['resnet']],
                                (8, 6), (8, 8))
    torch.testing.assert_close(loaded, expected)


# ---------------------------------------------------------------------------
# Backbone-level rules: recorded grid, old checkpoints, CLIP weights
# ---------------------------------------------------------------------------
def test_old_checkpoint_without_grid_buffer():
    # same grid: loads strictly, the buffer is not reported missing
    source = tiny_backbone((192, 256))
    state = source.state_dict()
    del state['pos_embed_grid']
    same = tiny_backbone((192, 256))
    result = same.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(same.state_dict()[POS_KEY], state[POS_KEY])
    assert same.pos_embed_grid.tolist() == [8, 6]

    # square grid (224x224: 7x7) is inferred
    square = tiny_backbone((224, 224)).state_dict()
    del square['pos_embed_grid']
    target = tiny_backbone((256, 256))
    target.load_state_dict(square, strict=True)
    torch.testing.assert_close(
        target.state_dict()[POS_KEY],
        resize_pos_embed(square[POS_KEY], (7, 7), (8, 8)))

    # non-square without the record: a clear error
    with pytest.raises(CLIPWeightsError) as info:
        tiny_backbone((256, 256)).load_state_dict(state)
    message = str(info.value)
    assert POS_KEY in message and '48 positions' in message
    assert 'pos_embed_grid' in message and 'resize_pos_embed' in message


def test_recorded_grid_beats_the_length():
    # 8x6 and 6x8 have the same length: only the record tells them apart
    source = tiny_backbone((192, 256))  # (W, H): grid (8, 6)
    target = tiny_backbone((256, 192))  # grid (6, 8)
    state = source.state_dict()
    target.load_state_dict(state, strict=True)
    torch.testing.assert_close(
        target.state_dict()[POS_KEY],
        resize_pos_embed(state[POS_KEY], (8, 6), (6, 8)))
    assert not torch.equal(target.state_dict()[POS_KEY], state[POS_KEY])
    assert target.pos_embed_grid.tolist() == [6, 8]


def test_clip_weights_still_load(tmp_path):
    clip = build_tiny_clip('resnet', seed=3)
    path = save_clip_state_dict(clip, str(tmp_path / 'clip.pth'))
    backbone = CLIPResNet(
        layers=(1, 1, 1, 1),
        width=8,
        head_width=16,
        embed_dim=32,
        input_size=COCO_SIZE,
        init_cfg=dict(type='PretrainedCLIP', checkpoint=path))
    backbone.init_weights()
    source = clip.state_dict()['visual.attnpool.positional_embedding']
    torch.testing.assert_close(backbone.state_dict()[POS_KEY],
                               resize_pos_embed(source, (2, 2), (8, 6)))
    assert backbone.pos_embed_grid.tolist() == [8, 6]
    assert backbone.pos_embed_grid.dtype == torch.long


# ---------------------------------------------------------------------------
# The paper's configs (full size, random weights)
# ---------------------------------------------------------------------------
def full_cfg(name: str) -> Config:
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    cfg.model.backbone.init_cfg = None
    cfg.model.neck.init_cfg = None
    return apply_dataset_keypoints(cfg)


# lr of COCO pre-training, AP-10K fine-tuning and COCO-pretrained 20-shot;
# the 20-shot batch per GPU (totals 64 and 128, the paper's section 4.1)
@pytest.mark.slow  # builds the full-size models
@pytest.mark.parametrize('backbone,lrs,shot_batch',
                         [('rn50', (5e-4, 6e-4, 5e-4), 8),
                          ('vit-b16', (2e-4, 5e-5, 5e-5), 16)])
def test_coco_configs_transfer_to_ap10k(tiny_cfg, backbone, lrs, shot_batch):
    kind = 'resnet' if backbone == 'rn50' else 'vit'
    coco_cfg = full_cfg(f'td-hm_promptpose-clip-{backbone}_8xb64-210e_'
                        'coco-256x192.py')
    assert coco_cfg.codec.input_size == COCO_SIZE
    assert coco_cfg.codec.heatmap_size == (48, 64)
    assert coco_cfg.model.backbone.input_size == COCO_SIZE
    assert coco_cfg.model.head.decoder == coco_cfg.codec
    assert coco_cfg.train_dataloader.dataset.type == 'CocoDataset'
    assert coco_cfg.train_dataloader.batch_size * 8 == 512
    assert coco_cfg.auto_scale_lr.base_batch_size == 512
    assert coco_cfg.optim_wrapper.optimizer.lr == lrs[0]
    assert coco_cfg.val_dataloader.dataset.bbox_file.endswith(
        'COCO_val2017_detections_AP_H_56_person.json')
    for loader in ('train_dataloader', 'val_dataloader'):
        pipeline = coco_cfg[loader].dataset.pipeline
        affine = [step for step in pipeline if step.type == 'TopdownAffine']
        assert affine[0].input_size == COCO_SIZE
    coco = build_model(coco_cfg, init=False)
    assert coco.neck.keypoint_names == COCO_NAMES
    assert coco.backbone.grid == GRIDS[kind][0]

    tune_cfg = full_cfg(f'td-hm_promptpose-clip-{backbone}_coco-pre_'
                        '8xb16-210e_ap10k-256x256.py')
    assert tune_cfg.load_from.endswith('coco-256x192/epoch_210.pth')
    assert tune_cfg.optim_wrapper.optimizer.lr == lrs[1]
    assert tune_cfg.model.backbone.input_size == AP10K_SIZE
    tune = build_model(tune_cfg, seed=1, init=False)
    assert tune.backbone.grid == GRIDS[kind][1]
    load_state_dict(tune, coco.state_dict(), strict=True)
    key = POS_KEYS[kind]
    torch.testing.assert_close(
        tune.state_dict()[key],
        resize_pos_embed(coco.state_dict()[key], *GRIDS[kind]))

    shot_cfg = apply_dataset_keypoints(
        Config.fromfile(
            osp.join(
                CONFIGS, f'td-hm_promptpose-clip-{backbone}_coco-pre_'
                f'8xb{shot_batch}-210e_ap10k-20shot-256x256.py')))
    assert shot_cfg.model == tune_cfg.model
    assert shot_cfg.load_from == tune_cfg.load_from
    assert shot_cfg.optim_wrapper.optimizer.lr == lrs[2]
    assert shot_cfg.optim_wrapper.paramwise_cfg == (
        tune_cfg.optim_wrapper.paramwise_cfg)
    assert shot_cfg.optim_wrapper.optimizer.type == (
        tune_cfg.optim_wrapper.optimizer.type)
    assert shot_cfg.train_dataloader.batch_size == shot_batch
    assert shot_cfg.auto_scale_lr.base_batch_size == shot_batch * 8
    assert shot_cfg.train_dataloader.dataset.ann_file == (
        'annotations/ap10k-train-split1-20shot.json')
