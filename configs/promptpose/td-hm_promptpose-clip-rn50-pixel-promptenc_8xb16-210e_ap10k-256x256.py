# Table 5 ablation (CLIP ResNet-50, AP-10K): baseline + pixel-level loss +
# prompt encoder (72.3 AP). No semantic-level loss.
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']

model = dict(head=dict(semantic_loss=None))
