# Short name of PromptPose, CLIP ViT-B/16, AP-10K, 256x256.
_base_ = [
    './promptpose/td-hm_promptpose-clip-vit-b16_8xb16-210e_ap10k-256x256.py'
]
