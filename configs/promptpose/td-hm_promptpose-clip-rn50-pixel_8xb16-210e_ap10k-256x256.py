# Table 5 ablation (CLIP ResNet-50, AP-10K): baseline + pixel-level loss
# (72.1 AP). No semantic-level loss, no prompt encoder.
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']

model = dict(neck=dict(prompt_encoder=None), head=dict(semantic_loss=None))
