# PromptPose with CLIP ResNet-50 on COCO human pose at 256x192: the
# pre-training of the paper's transfer experiments (Tables 3 and 4), with
# COCO's 17 keypoint names ("nose", ..., "right ankle") as prompts, total
# batch 512 (8 GPUs x 64), lr 5e-4; otherwise the AP-10K recipe. The
# checkpoint fine-tunes on AP-10K with
# td-hm_promptpose-clip-rn50_coco-pre_8xb16-210e_ap10k-256x256.py (the
# attention pool's 8x6 positional embedding is resized to 8x8 on loading).
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']

optim_wrapper = dict(optimizer=dict(lr=5e-4))
auto_scale_lr = dict(base_batch_size=512)

# codec: MSRA heatmaps, 48x64 for a 192x256 (W x H) crop
codec = dict(
    type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)

# model: the attention pool on an 8x6 grid; the prompts follow the dataset
# (COCO's metainfo)
metainfo = dict(from_file='configs/_base_/datasets/coco.py')
model = dict(
    metainfo=metainfo,
    backbone=dict(input_size=codec['input_size']),
    head=dict(decoder=codec))

# data: COCO train2017 / val2017 with person detections, as MMPose's COCO
# configs (the pipelines are the AP-10K ones at the COCO input size)
dataset_type = 'CocoDataset'
data_root = 'data/coco/'
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
    batch_size=64,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/person_keypoints_val2017.json',
        bbox_file='data/coco/person_detection_results/'
        'COCO_val2017_detections_AP_H_56_person.json',
        data_prefix=dict(img='val2017/'),
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root +
                     'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator
