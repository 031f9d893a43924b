# PromptPose with a tiny CLIP ResNet (random weights) on the AP-10K samples
# bundled in tests/data: the same code path as the paper's configs, small
# enough to train on a CPU in minutes. Used by `make demo` and the tests.
# The architecture matches promptpose_mm.testing.TINY_CLIP_SPECS['resnet'],
# so a tiny CLIP archive written by that module loads into it.
_base_ = ['./td-hm_promptpose-clip-rn50_8xb16-210e_ap10k-256x256.py']

train_cfg = dict(max_epochs=500, val_interval=100)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False)
]
auto_scale_lr = dict(base_batch_size=2)
# a fixed seed: the demo's numbers repeat run to run
randomness = dict(seed=0)
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=100, max_keep_ckpts=1))
log_processor = dict(window_size=50)
# training on the CPU: glibc keeps the memory a step frees for the next one
# instead of mapping and zeroing it again (promptpose_mm/utils/cpu_memory.py)
custom_hooks = [
    dict(type='DatasetKeypointsHook'),
    dict(type='CPUMemoryReuseHook')
]

# no file to load: random weights (the demo passes a tiny CLIP archive)
model = dict(
    backbone=dict(
        layers=(1, 1, 1, 1),
        width=8,
        head_width=16,
        embed_dim=32,
        init_cfg=None),
    neck=dict(
        embed_dim=32,
        text_encoder=dict(width=32, heads=2, layers=2),
        prompt_encoder=dict(num_heads=2),
        context_decoder=dict(width=32, layers=1, num_heads=2, dropout=0.1),
        init_cfg=None),
    head=dict(
        in_channels=256,
        deconv_out_channels=(32, 32, 32),
        pixel_deconv_out_channels=(32, 32, 32)))

# the bundled samples, found from wherever the config is run; one loader
# setting serves training, validation and test
data_root = '{{ fileDirname }}/../../tests/data/ap10k/'
bundled_loader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='test_ap10k.json',
        data_prefix=dict(img='')))
train_dataloader = bundled_loader
val_dataloader = bundled_loader
test_dataloader = bundled_loader
val_evaluator = dict(ann_file=data_root + 'test_ap10k.json')
test_evaluator = val_evaluator
