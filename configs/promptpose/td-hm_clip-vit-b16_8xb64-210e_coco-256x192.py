# SimpleBaseline with a CLIP ViT-B/16 backbone on COCO human pose at 256x192:
# the pre-training of the SimpleBaseline (CLIP) rows of Tables 3 and 4. The
# data and recipe (total batch 512 = 8 GPUs x 64, lr 2e-4 with the backbone
# at 0.1 x) are those of
# td-hm_promptpose-clip-vit-b16_8xb64-210e_coco-256x192.py; the model is that
# of td-hm_clip-vit-b16_8xb16-210e_ap10k-256x256.py (no prompts, score maps
# or text losses). Fine-tune on AP-10K with
# td-hm_clip-vit-b16_coco-pre_8xb16-210e_ap10k-256x256.py.
_base_ = ['./td-hm_promptpose-clip-vit-b16_8xb64-210e_coco-256x192.py']

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
