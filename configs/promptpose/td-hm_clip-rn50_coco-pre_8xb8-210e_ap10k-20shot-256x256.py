# SimpleBaseline with a CLIP ResNet-50 backbone on 20-shot AP-10K at 256x256,
# fine-tuned from the COCO checkpoint (paper, Table 4, "SimpleBaseline
# (CLIP)": 62.4 AP): the COCO-pretrained config (load_from) with the few-shot
# recipe, total batch 64 (8 GPUs x 8) and lr 5e-4. Make
# the 20-shot annotation file as the header of
# td-hm_promptpose-clip-rn50_8xb8-210e_ap10k-20shot-256x256.py says.
_base_ = ['./td-hm_clip-rn50_coco-pre_8xb16-210e_ap10k-256x256.py']

optim_wrapper = dict(optimizer=dict(lr=5e-4))
auto_scale_lr = dict(base_batch_size=64)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(ann_file='annotations/ap10k-train-split1-20shot.json'))
