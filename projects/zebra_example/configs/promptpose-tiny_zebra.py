# PromptPose (tiny CLIP ResNet, random weights) on the DeepPoseKit zebra
# samples bundled in tests/data/zebra: 9 keypoints, a dataset the method was
# never written for, with no code change. Everything but the dataset comes
# from the promptpose_mm config it inherits by a relative path (MMEngine
# resolves `package::` bases only for OpenMMLab packages, so
# `promptpose_mm::...` does not work from another project).
_base_ = ['../../../configs/promptpose_tiny_ap10k.py']

# the data: MMPose's ZebraDataset, found from wherever the config is run.
# Its metainfo is stated once, for the model and the loaders: the prompts
# are its keypoint names (zebra.py: "snout", "head", ..., "forelegL1" ->
# "foreleg left 1", ...) and K = 9
metainfo = dict(from_file='configs/_base_/datasets/zebra.py')
model = dict(metainfo=metainfo)
dataset_type = 'ZebraDataset'
data_root = '{{ fileDirname }}/../../../tests/data/zebra/'
zebra = dict(
    type=dataset_type,
    metainfo=metainfo,
    data_root=data_root,
    ann_file='test_zebra.json')
train_dataloader = dict(dataset=zebra)
val_dataloader = dict(dataset=zebra)
test_dataloader = val_dataloader

# the metrics: MMPose's zebra configs use PCK@0.2, AUC and EPE; COCO's OKS AP
# (CocoMetric) needs per-keypoint sigmas, which the zebra metainfo lacks
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.2),
    dict(type='AUC'),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
