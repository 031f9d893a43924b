# SimpleBaseline with an ImageNet ResNet-50 on AP-10K at 256x256 (paper,
# Table 1, "SimpleBaseline (ImageNet)": 70.2 AP): MMPose's own ResNet-50 with
# torchvision's ImageNet weights in place of the CLIP ResNet-50 of
# td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py (2048 x 8 x 8 as well, the same
# head, ImageNet normalisation and recipe).
_base_ = ['./td-hm_clip-rn50_8xb16-210e_ap10k-256x256.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
