# SimpleBaseline with a CLIP ViT-B/16 backbone on AP-10K at 256x256 (paper,
# Table 1, "SimpleBaseline (CLIP)": 72.6 AP): the ViT-B/16 PromptPose recipe
# without prompts, score maps or the two text losses.
_base_ = ['./td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256.py']

model = dict(
    backbone=dict(with_clip_space=False),
    neck=None,
    head=dict(
        _delete_=True,
        type='HeatmapHead',
        in_channels=768,
        out_channels=None,  # K, from the estimator's metainfo
        deconv_out_channels=(256, 256),
        deconv_kernel_sizes=(4, 4),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder={{_base_.codec}}))
