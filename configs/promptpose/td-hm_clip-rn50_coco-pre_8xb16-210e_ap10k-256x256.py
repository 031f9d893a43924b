# SimpleBaseline with a CLIP ResNet-50 backbone on AP-10K at 256x256,
# fine-tuned from the COCO checkpoint of
# td-hm_clip-rn50_8xb64-210e_coco-256x192.py (paper, Table 3, "SimpleBaseline
# (CLIP)": 74.4 AP), lr 6e-4 as the PromptPose fine-tuning; otherwise the
# supervised recipe. The whole model comes from that checkpoint (the
# attention pool's 8x6 positional embedding is resized to 8x8 on loading), so
# no CLIP weights are loaded first. Point load_from at your COCO checkpoint
# (--cfg-options load_from=...).
_base_ = ['./td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py']

load_from = 'work_dirs/td-hm_clip-rn50_8xb64-210e_coco-256x192/epoch_210.pth'
optim_wrapper = dict(optimizer=dict(lr=6e-4))
model = dict(backbone=dict(init_cfg=None))
