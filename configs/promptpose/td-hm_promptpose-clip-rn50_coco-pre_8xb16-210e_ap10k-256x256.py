# PromptPose with CLIP ResNet-50 on AP-10K at 256x256, fine-tuned from the
# COCO checkpoint of td-hm_promptpose-clip-rn50_8xb64-210e_coco-256x192.py
# (paper, Table 3: 75.2 AP on AP-10K val), lr 6e-4; otherwise the supervised
# recipe. The whole model (CLIP towers included) comes from that checkpoint,
# so no CLIP weights are loaded first; the attention pool's 8x6 positional
# embedding is resized to 8x8 when it is loaded. Point load_from at your COCO
# checkpoint (--cfg-options load_from=...).
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']

load_from = ('work_dirs/td-hm_promptpose-clip-rn50_8xb64-210e_coco-256x192/'
             'epoch_210.pth')
optim_wrapper = dict(optimizer=dict(lr=6e-4))
model = dict(backbone=dict(init_cfg=None), neck=dict(init_cfg=None))
