# SimpleBaseline with a CLIP ResNet-50 backbone on AP-10K at 256x256 (paper,
# Table 1, "SimpleBaseline (CLIP)": 70.9 AP), the baseline row of Table 5: the
# PromptPose recipe without prompts, score maps or the two text losses.
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']

model = dict(
    backbone=dict(with_clip_space=False),
    neck=None,
    head=dict(
        _delete_=True,
        type='HeatmapHead',
        in_channels=2048,
        out_channels=None,  # K, from the estimator's metainfo
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder={{_base_.codec}}))
