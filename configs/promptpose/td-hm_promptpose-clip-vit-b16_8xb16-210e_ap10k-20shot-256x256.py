# PromptPose with CLIP ViT-B/16, 20-shot AP-10K at 256x256 (paper, Table 2:
# 58.6 AP on AP-10K val): 20 random training instances per species, total
# batch 128 (8 GPUs x 16) and lr 5e-5 (paper, section 4.1);
# otherwise the supervised recipe.
#
# lr : the paper's ViT rate 5e-5 is read as the base
# rate, with the backbone at 0.1 x as in the supervised recipe; a stated
# reading, since the paper is ambiguous.
#
# The 20-shot annotation file is made once from the training split (seed 0):
#   python tools/dataset_converters/make_fewshot_split.py \
#       data/ap10k/annotations/ap10k-train-split1.json \
#       data/ap10k/annotations/ap10k-train-split1-20shot.json \
#       --shots 20 --seed 0
_base_ = ['./td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256.py']

optim_wrapper = dict(optimizer=dict(lr=5e-5))
auto_scale_lr = dict(base_batch_size=128)
train_dataloader = dict(
    batch_size=16,
    dataset=dict(ann_file='annotations/ap10k-train-split1-20shot.json'))
