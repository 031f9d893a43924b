# SimpleBaseline with a CLIP ResNet-50 backbone, 20-shot AP-10K at 256x256
# (paper, Table 2, "SimpleBaseline (CLIP)": 51.8 AP): the supervised
# SimpleBaseline config with the few-shot recipe of
# td-hm_promptpose-clip-rn50_8xb8-210e_ap10k-20shot-256x256.py (20 instances
# per species, total batch 64 = 8 GPUs x 8, lr 5e-4).
# Make the 20-shot annotation file as that config's header says.
_base_ = ['./td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py']

optim_wrapper = dict(optimizer=dict(lr=5e-4))
auto_scale_lr = dict(base_batch_size=64)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(ann_file='annotations/ap10k-train-split1-20shot.json'))
