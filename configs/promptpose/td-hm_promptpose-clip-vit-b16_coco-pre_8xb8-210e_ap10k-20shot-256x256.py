# PromptPose with CLIP ViT-B/16 on 20-shot AP-10K at 256x256, fine-tuned
# from the COCO checkpoint (paper, Table 4: 64.1 AP on AP-10K val): the
# COCO-pretrained supervised config (lr 5e-5, load_from) on the 20-shot
# annotation file with total batch 64 (8 GPUs x 8). Make that file with:
#   python tools/dataset/make_fewshot_split.py \
#       data/ap10k/annotations/ap10k-train-split1.json \
#       data/ap10k/annotations/ap10k-train-split1-20shot.json \
#       --shots 20 --seed 0
_base_ = [
    './td-hm_promptpose-clip-vit-b16_coco-pre_8xb16-210e_ap10k-256x256.py'
]

auto_scale_lr = dict(base_batch_size=64)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(ann_file='annotations/ap10k-train-split1-20shot.json'))
