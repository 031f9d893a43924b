# PromptPose with a tiny CLIP ViT (random weights) on the AP-10K samples
# bundled in tests/data: the ViT twin of the tiny ResNet config, for tests on
# a CPU. The architecture matches promptpose_mm.testing.TINY_CLIP_SPECS['vit']
# (patch 16, width 32, 2 layers, CLIP space 32-d), so a tiny CLIP ViT archive
# written by that module loads into it; the head is the ViT paper config's
# (two deconvolutions, a K-channel pixel branch).
_base_ = ['./td-hm_promptpose-tiny-clip-rn_1xb2-500e_ap10k-256x256.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='CLIPVisionTransformer',
        patch_size=16,
        width=32,
        layers=2,
        head_width=16,
        embed_dim=32,
        input_size=(256, 256),
        out_indices=(1, ),
        init_cfg=None),
    head=dict(
        in_channels=32,
        deconv_out_channels=(32, 32),
        deconv_kernel_sizes=(4, 4),
        pixel_deconv_out_channels=None))
