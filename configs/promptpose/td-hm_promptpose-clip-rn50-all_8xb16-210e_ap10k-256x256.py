# Table 5 ablation (CLIP ResNet-50, AP-10K): pixel-level loss + semantic-level
# loss + prompt encoder (72.9 AP), i.e. the full PromptPose ResNet-50 recipe,
# kept under this name so the ablation table has one config per row.
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']
