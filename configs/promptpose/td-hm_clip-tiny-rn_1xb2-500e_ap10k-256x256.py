# SimpleBaseline counterpart of the tiny PromptPose config: the same tiny
# CLIP ResNet (random weights), input size and recipe, without prompts,
# score maps or the two text losses. Used by the analysis tools' tests
# (benchmark, prediction comparison).
_base_ = ['./td-hm_promptpose-tiny-clip-rn_1xb2-500e_ap10k-256x256.py']

model = dict(
    backbone=dict(with_clip_space=False),
    neck=None,
    head=dict(
        _delete_=True,
        type='HeatmapHead',
        in_channels=256,
        out_channels=None,  # K, from the estimator's metainfo
        deconv_out_channels=(32, 32, 32),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder={{_base_.codec}}))
