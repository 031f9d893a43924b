# Short name of PromptPose, tiny CLIP ResNet, bundled AP-10K samples.
_base_ = [
    './promptpose/td-hm_promptpose-tiny-clip-rn_1xb2-500e_ap10k-256x256.py'
]
