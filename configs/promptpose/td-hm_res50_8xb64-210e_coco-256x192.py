# SimpleBaseline with an ImageNet ResNet-50 on COCO human pose at 256x192:
# the pre-training of the SimpleBaseline (ImageNet) rows of Tables 3 and 4,
# with the COCO data and recipe of the other COCO configs (total batch 512 =
# 8 GPUs x 64, lr 5e-4; the paper gives no separate recipe for this
# baseline). Fine-tune on AP-10K with
# td-hm_res50_coco-pre_8xb16-210e_ap10k-256x256.py.
_base_ = ['./td-hm_clip-rn50_8xb64-210e_coco-256x192.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
