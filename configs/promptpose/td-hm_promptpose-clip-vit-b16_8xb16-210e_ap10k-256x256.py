# PromptPose with CLIP ViT-B/16 on AP-10K at 256x256 (paper, Table 1:
# 73.1 AP on AP-10K val). Same recipe as the ResNet-50 config except the
# backbone (768 x 16 x 16, CLIP space 512-d, drop path 0.4, learning-rate
# multiplier 0.1), two deconvolutions, and a pixel-loss weight of 2.0.
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']

clip_checkpoint = 'open_clip://ViT-B-16/openai'
# the backbone learns at 0.1 x the base rate; biases and norm layers do not
# decay (the base config's rules, applied on top of this key). One key matches
# one parameter, so the base config's 'in_proj_bias' key would take the
# backbone's attention biases out of the 0.1 multiplier: each backbone block's
# gets a key of its own (its frozen twins in the text encoder are not
# optimised)
backbone_lr_keys = {
    'backbone': dict(lr_mult=0.1),
    **{
        f'resblocks.{i}.attn.in_proj_bias': dict(lr_mult=0.1, decay_mult=0.)
        for i in range(12)
    }
}
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=backbone_lr_keys))
model = dict(
    backbone=dict(
        _delete_=True,
        type='CLIPVisionTransformer',
        patch_size=16,
        width=768,
        layers=12,
        embed_dim=512,
        input_size=(256, 256),
        drop_path_rate=0.4,
        init_cfg=dict(type='PretrainedCLIP', checkpoint=clip_checkpoint)),
    neck=dict(
        embed_dim=512,
        init_cfg=dict(type='PretrainedCLIP', checkpoint=clip_checkpoint)),
    head=dict(
        in_channels=768,
        deconv_out_channels=(256, 256),
        deconv_kernel_sizes=(4, 4),
        pixel_deconv_out_channels=None,  # K channels each
        pixel_loss=dict(loss_weight=2.0)))
