# PromptPose with CLIP ResNet-50, 20-shot AP-10K at 256x256 (paper, Table 2:
# 54.0 AP on AP-10K val): 20 random training instances per species, total
# batch 64 (8 GPUs x 8), lr 5e-4; otherwise the supervised recipe.
#
# The 20-shot annotation file is made once from the training split (seed 0):
#   python tools/dataset_converters/make_fewshot_split.py \
#       data/ap10k/annotations/ap10k-train-split1.json \
#       data/ap10k/annotations/ap10k-train-split1-20shot.json \
#       --shots 20 --seed 0
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']

optim_wrapper = dict(optimizer=dict(lr=5e-4))
auto_scale_lr = dict(base_batch_size=64)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(ann_file='annotations/ap10k-train-split1-20shot.json'))
