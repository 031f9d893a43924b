# PromptPose with CLIP ResNet-50 on AP-10K at 256x256 (paper, Table 1:
# 72.9 AP on AP-10K val). The other PromptPose configs inherit this one.
#
# CLIP weights: `clip_checkpoint` below is an open_clip tag, fetched by
# open_clip where a network exists; a local copy of OpenAI's archive works as
# well: --cfg-options model.backbone.init_cfg.checkpoint=RN50.pt
# model.neck.init_cfg.checkpoint=RN50.pt
_base_ = ['mmpose::_base_/default_runtime.py']

# the plugin: registers the modules and lets torch.load read MMEngine
# checkpoints
custom_imports = dict(imports=['promptpose_mm'], allow_failed_imports=False)

# the dataset's keypoints, stated once: the model (its prompt names, K, the
# head's channels) and the dataloaders below share this variable; a config
# for another dataset sets it, model=dict(metainfo=metainfo) and its
# dataloaders' metainfo (DatasetKeypointsHook stops a run whose model and
# data disagree, naming both)
metainfo = dict(from_file='configs/_base_/datasets/ap10k.py')

# runtime: 210 epochs, AdamW, step decay at 170 and 200, 500-iteration warm-up
train_cfg = dict(max_epochs=210, val_interval=10)
# Weight decay: none on biases and normalisation layers,
# as the published configs ask with their 'bias' and 'norm' keys (which, as
# name matches, miss CLIP's bn*/ln_* layers; MMEngine's rules below find every
# norm layer by its type). nn.MultiheadAttention's packed bias is named
# in_proj_bias, which the bias rule (parameters named 'bias') misses: a key of
# its own. PromptPoseOptimWrapperConstructor (MMPose's
# ForceDefaultOptimWrapperConstructor) applies these rules to the parameters a
# custom key matches too (the ViT backbone's lr multiplier), and a downstream
# optimizer without weight_decay (dict(_delete_=True, type='Adam', lr=1e-3))
# keeps its class's default instead of failing on "base_wd should not be None".
# Everything else decays, as in the published code: conv/linear weights,
# projections, positional embeddings, the context vectors, the prompt gamma
# and the semantic logit scale. The published 'text_encoder' lr_mult=0 is the
# frozen text encoder here (requires_grad=False: not optimised at all).
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=1e-4),
    clip_grad=None,
    constructor='PromptPoseOptimWrapperConstructor',
    paramwise_cfg=dict(
        bias_decay_mult=0.,
        norm_decay_mult=0.,
        custom_keys={'in_proj_bias': dict(decay_mult=0.)},
        force_default_settings=True))
param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=210,
        milestones=[170, 200],
        gamma=0.1,
        by_epoch=True)
]
# the paper's total batch: 8 GPUs x 16
auto_scale_lr = dict(base_batch_size=128)
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater'))
# the model's keypoints are checked against the data before the first step
custom_hooks = [dict(type='DatasetKeypointsHook')]
# parameters a step does not use (a loss switched off) never break DDP;
# device_ids=None lets DDP take the module's device: a GPU, or the CPU
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel',
    find_unused_parameters=True,
    device_ids=None)

# mmpose's visualizer with its numpy-2 fix (see PromptPoseLocalVisualizer)
visualizer = dict(type='PromptPoseLocalVisualizer')

# codec: MSRA heatmaps, 64x64 for a 256x256 crop
codec = dict(
    type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2)

# model: CLIP RN50 (2048 x 8 x 8, CLIP space 1024-d), prompt neck, head with
# three deconvolutions; loss = L_pred + 5e-4 L_semantic + 0.4 L_pixel
clip_checkpoint = 'open_clip://RN50/openai'
model = dict(
    type='PromptPoseEstimator',
    metainfo=metainfo,
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='CLIPResNet',
        layers=(3, 4, 6, 3),
        width=64,
        embed_dim=1024,
        input_size=codec['input_size'],
        init_cfg=dict(type='PretrainedCLIP', checkpoint=clip_checkpoint)),
    neck=dict(
        type='PromptPoseNeck',
        embed_dim=1024,
        text_encoder=dict(width=512, heads=8, layers=12),
        num_context=8,
        # no metainfo, keypoint_names or num_keypoints: the prompt names are
        # the keypoint names of the estimator's metainfo (humanized) and K
        # follows; any of them set here is checked against it
        init_cfg=dict(type='PretrainedCLIP', checkpoint=clip_checkpoint)),
    head=dict(
        type='PromptPoseHead',
        in_channels=2048,
        out_channels=None,  # K, from the estimator's metainfo
        deconv_out_channels=(256, 256, 256),
        deconv_kernel_sizes=(4, 4, 4),
        # the pixel branch upsamples S through 256-channel deconvolutions
        pixel_deconv_out_channels=(256, 256, 256),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        pixel_loss=dict(
            type='PixelLevelLoss', use_target_weight=True, loss_weight=0.4),
        semantic_loss=dict(type='SemanticLevelLoss', loss_weight=5e-4),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# data: AP-10K split 1, evaluated on val as the paper reports
dataset_type = 'AP10KDataset'
data_mode = 'topdown'
data_root = 'data/ap10k/'
# Augmentation (a deviation from the published code): flip, half-body and
# MMPose 1.x's RandomBBoxTransform with its defaults (shift 0.16 with
# probability 0.3, scale 0.5 to 1.5, rotation up to 80 degrees with
# probability 0.6), as MMPose 1.x's own AP-10K configs use. The published code
# (MMPose 0.x) drew rotation, scale and shift differently
# (TopDownGetRandomScaleRotation, rot_factor=40, scale_factor=0.5, and
# TopDownHalfBodyTransform).
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    # the semantic-level loss samples features at the transformed keypoints
    dict(type='PackPoseInputs', pack_transformed=True)
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        metainfo=metainfo,
        ann_file='annotations/ap10k-train-split1.json',
        data_prefix=dict(img='data/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        metainfo=metainfo,
        ann_file='annotations/ap10k-val-split1.json',
        data_prefix=dict(img='data/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/ap10k-val-split1.json')
test_evaluator = val_evaluator
