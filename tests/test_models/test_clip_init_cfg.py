"""``init_cfg=dict(type='PretrainedCLIP', ...)`` vs MMEngine's Pretrained.

The CLIP backbones and the prompt neck load CLIP weights with their own
init type; ``type='Pretrained'`` is MMEngine's initialisation (a checkpoint
of the module, ``prefix`` selecting it), and its old use for CLIP weights is
refused with a message naming the new type.
"""
import pytest
import torch
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import nn

from promptpose_mm.models.backbones import CLIPResNet
from promptpose_mm.models.clip import (CLIP_INIT_TYPE, CLIPWeightsError,
                                       looks_like_clip_weights,
                                       split_clip_init_cfg, sub_state_dict)
from promptpose_mm.testing import (TINY_CLIP_SPECS, build_tiny_clip,
                                   save_clip_archive, save_clip_state_dict)

pytestmark = pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning')

SPEC = TINY_CLIP_SPECS['resnet']
NAMES = ['left front paw', 'nose']


@pytest.fixture(scope='module')
def clip_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('clip')
    model = build_tiny_clip('resnet', seed=2)
    return dict(
        model=model,
        archive=save_clip_archive(model, str(folder / 'RN.pt')),
        state=save_clip_state_dict(model, str(folder / 'rn_state.pth')))


def backbone(init_cfg=None):
    vision = SPEC['vision']
    return CLIPResNet(
        layers=vision['layers'],
        width=vision['width'],
        head_width=vision['head_width'],
        embed_dim=SPEC['embed_dim'],
        input_size=(64, 64),
        init_cfg=init_cfg)


def neck(init_cfg=None):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='PromptPoseNeck',
            embed_dim=SPEC['embed_dim'],
            text_encoder=SPEC['text'],
            keypoint_names=NAMES,
            prompt_encoder=dict(num_heads=2),
            context_decoder=dict(width=16, layers=1, num_heads=2),
            init_cfg=init_cfg))


def clip_init(source):
    return dict(type=CLIP_INIT_TYPE, checkpoint=str(source))


def assert_backbone_has_clip(module, model):
    expected = sub_state_dict(model.state_dict(), 'visual.')
    for key, value in module.clip.state_dict().items():
        assert torch.equal(value, expected[key]), key


def assert_neck_has_clip(module, model):
    state = module.text_encoder.clip.state_dict()
    for key, value in state.items():
        assert torch.equal(value, model.state_dict()[key]), key


def test_init_type_name():
    assert CLIP_INIT_TYPE == 'PretrainedCLIP'


@pytest.mark.parametrize('fmt', ['archive', 'state'])
def test_clip_type_loads_backbone_and_neck(clip_files, fmt):
    source = clip_files[fmt]
    parts = backbone(clip_init(source)), neck(clip_init(source))
    for part in parts:
        part.init_weights()
        assert part.is_init
    assert_backbone_has_clip(parts[0], clip_files['model'])
    assert_neck_has_clip(parts[1], clip_files['model'])


def test_mmengine_init_weights_of_a_parent_runs_the_clip_type(clip_files):
    """A model holding both: MMEngine's BaseModule.init_weights calls the
    children's init_weights (no weight initializer lookup of the type)."""

    class Model(BaseModule):

        def __init__(self):
            super().__init__(
                init_cfg=dict(type='Constant', val=0, layer='Linear'))
            self.backbone = backbone(clip_init(clip_files['state']))
            self.neck = neck(clip_init(clip_files['archive']))
            self.extra = nn.Linear(2, 2)

    model = Model()
    model.init_weights()
    assert_backbone_has_clip(model.backbone, clip_files['model'])
    assert_neck_has_clip(model.neck, clip_files['model'])
    assert model.extra.weight.eq(0).all()


def test_clip_type_runs_after_the_other_entries(clip_files):
    module = backbone([
        clip_init(clip_files['state']),
        dict(type='Constant', val=0.5, layer='Conv2d')
    ])
    module.init_weights()
    assert_backbone_has_clip(module, clip_files['model'])


def test_pretrained_with_prefix_is_mmengines(tmp_path, clip_files):
    """An MMPose checkpoint: prefix 'backbone.' / 'neck.' picks the part."""
    source_backbone = backbone(clip_init(clip_files['state']))
    source_backbone.init_weights()
    source_neck = neck()
    with torch.no_grad():
        source_neck.text_encoder.context.fill_(0.25)
    state = {
        f'backbone.{k}': v
        for k, v in source_backbone.state_dict().items()
    }
    state.update({f'neck.{k}': v for k, v in source_neck.state_dict().items()})
    path = tmp_path / 'pose.pth'
    torch.save(dict(state_dict=state), path)

    target = backbone(
        dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    target.init_weights()
    assert_backbone_has_clip(target, clip_files['model'])
    target_neck = neck(
        dict(type='Pretrained', checkpoint=str(path), prefix='neck.'))
    target_neck.init_weights()
    assert target_neck.text_encoder.context.eq(0.25).all()


def test_pretrained_without_prefix_loads_a_module_checkpoint(tmp_path):
    """A checkpoint of the module itself (not CLIP) is MMEngine's too."""
    source = backbone()
    path = tmp_path / 'backbone.pth'
    torch.save(source.state_dict(), path)
    assert not looks_like_clip_weights(str(path))
    target = backbone(dict(type='Pretrained', checkpoint=str(path)))
    target.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


@pytest.mark.parametrize('build', [backbone, neck])
@pytest.mark.parametrize('which', ['tag', 'archive', 'state', 'visual'])
def test_old_pretrained_form_is_refused(clip_files, build, which):
    cfg = dict(type='Pretrained', checkpoint='open_clip://RN50/openai')
    if which in ('archive', 'state'):
        cfg['checkpoint'] = clip_files[which]
    if which == 'visual':
        cfg.update(checkpoint=clip_files['state'], prefix='visual.')
    module = build(cfg)
    with pytest.raises(ValueError) as info:
        module.init_weights()
    message = str(info.value)
    assert f'{type(module).__name__}: init_cfg' in message
    assert 'names CLIP weights' in message
    assert (f"dict(type='PretrainedCLIP', checkpoint="
            f"{cfg['checkpoint']!r})") in message
    assert not module.is_init


def test_looks_like_clip_weights(tmp_path, clip_files):
    assert looks_like_clip_weights('open_clip://ViT-B-16/openai')
    assert looks_like_clip_weights(
        'https://openaipublic.azureedge.net/clip/models/x/RN50.pt')
    assert looks_like_clip_weights(clip_files['archive'])
    assert looks_like_clip_weights(clip_files['state'])
    module_state = {
        'module.' + key: value
        for key, value in clip_files['model'].state_dict().items()
    }
    torch.save(dict(state_dict=module_state), tmp_path / 'ddp.pth')
    assert looks_like_clip_weights(str(tmp_path / 'ddp.pth'))
    torch.save(nn.Linear(2, 3).state_dict(), tmp_path / 'linear.pth')
    assert not looks_like_clip_weights(str(tmp_path / 'linear.pth'))
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    assert not looks_like_clip_weights(str(tmp_path / 'junk.pth'))
    assert not looks_like_clip_weights(str(tmp_path / 'missing.pth'))
    assert not looks_like_clip_weights('torchvision://resnet50')
    assert not looks_like_clip_weights(None)


@pytest.mark.parametrize('cfg, match', [
    (dict(type='PretrainedCLIP'), "lacks 'checkpoint'.*open_clip://RN50"),
    (dict(type='PretrainedCLIP', checkpoint=''), "lacks 'checkpoint'"),
    (dict(type='PretrainedCLIP', checkpoint='RN50.pt', prefix='visual.'),
     "has a prefix.*Drop the prefix.*type='Pretrained'"),
    (dict(type='PretrainedCLIP', checkpoint='RN50.pt', map_location='cpu'),
     r"unknown keys \['map_location'\].*only checkpoint=SRC"),
    ([
        dict(type='PretrainedCLIP', checkpoint='RN50.pt'),
        dict(type='PretrainedCLIP', checkpoint='RN101.pt')
    ], 'more than one'),
])
def test_clip_type_errors_say_how_to_fix(cfg, match):
    with pytest.raises(ValueError, match=match):
        split_clip_init_cfg(cfg, 'CLIPResNet')
    for build in (backbone, neck):
        with pytest.raises(ValueError, match=match):
            build(cfg).init_weights()


def test_split_keeps_the_other_entries_in_order():
    constant = dict(type='Constant', val=1, layer='Conv2d')
    pretrained = dict(type='Pretrained', checkpoint='x.pth', prefix='neck.')
    source, others = split_clip_init_cfg([
        constant,
        dict(type='PretrainedCLIP', checkpoint='RN50.pt'), pretrained
    ], 'PromptPoseNeck')
    assert source == 'RN50.pt'
    assert others == [constant, pretrained]
    assert split_clip_init_cfg(None, 'x') == (None, [])
    assert split_clip_init_cfg(constant, 'x') == (None, [constant])


def test_failed_clip_load_can_be_retried(tmp_path, clip_files):
    path = tmp_path / 'later.pth'
    module = neck(clip_init(path))
    with pytest.raises(CLIPWeightsError, match='not found'):
        module.init_weights()
    assert not module.is_init
    save_clip_state_dict(clip_files['model'], str(path))
    module.init_weights()
    assert module.is_init
    assert_neck_has_clip(module, clip_files['model'])
