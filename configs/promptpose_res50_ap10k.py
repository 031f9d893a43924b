# Short name of PromptPose, CLIP ResNet-50, AP-10K, 256x256.
_base_ = [
    './promptpose/td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py'
]
