"""Tests of the prompt neck: text encoder, prompt encoder, context decoder."""
import re

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmpose.registry import MODELS

from promptpose_mm.models import PromptPoseFeatures
from promptpose_mm.models.clip import CLIPWeightsError, load_clip_state_dict
from promptpose_mm.models.necks import (ContextDecoder, ContextDecoderLayer,
                                        PromptEncoder, PromptPoseNeck,
                                        PromptTextEncoder)
from promptpose_mm.models.necks.text_encoder import causal_attention
from promptpose_mm.testing import (TINY_CLIP_SPECS, build_tiny_clip,
                                   save_clip_state_dict)

DIM = 32
TINY_TEXT = TINY_CLIP_SPECS['resnet']['text']
NAMES = ['left front paw', 'root of tail', 'nose', 'right back elbow']
K = len(NAMES)


@pytest.fixture(scope='module')
def clip():
    return build_tiny_clip('resnet', seed=0)


@pytest.fixture(scope='module')
def clip_file(clip, tmp_path_factory):
    path = tmp_path_factory.mktemp('clip') / 'tiny_rn.pt'
    return save_clip_state_dict(clip, str(path))


def _encoder(clip=None, names=NAMES, **kwargs):
    cfg = dict(embed_dim=DIM, **TINY_TEXT)
    cfg.update(kwargs)
    encoder = PromptTextEncoder(names, **cfg)
    if clip is not None:
        encoder.load_clip(clip.state_dict())
    return encoder


def _neck(**kwargs):
    cfg = dict(
        type='PromptPoseNeck',
        embed_dim=DIM,
        text_encoder=TINY_TEXT,
        keypoint_names=NAMES,
        prompt_encoder=dict(num_heads=2),
        context_decoder=dict(width=16, layers=2, num_heads=2, dropout=0.1))
    cfg.update(kwargs)
    torch.manual_seed(0)
    neck = MODELS.build(cfg)
    assert isinstance(neck, PromptPoseNeck)
    return neck


def _feats(batch=2, size=(4, 3), seed=0):
    gen = torch.Generator().manual_seed(seed)
    level = torch.randn(batch, 8, *size, generator=gen)
    dense = torch.randn(batch, DIM, *size, generator=gen)
    global_feat = torch.randn(batch, DIM, generator=gen)
    return (level, dense, global_feat)


def _encode_text(clip, texts):
    with torch.no_grad():
        return clip.encode_text(open_clip.tokenize(texts))


def test_text_encoder_equals_open_clip(clip, clip_file):
    names = NAMES + ['mouth front bottom of the lower jaw on the left side']
    encoder = _encoder(names=names, num_context=0)
    encoder.load_clip(load_clip_state_dict(clip_file))
    # 5 tokens for [SOS] + name + [EOS], more for the long name.
    long_tokens = len(open_clip.tokenize(names[-1])[0].nonzero())
    assert encoder.prompt_length == long_tokens > 5
    out = encoder.eval()()
    assert out.shape == (len(names), DIM)
    # open_clip pads to its context length 77, under the causal mask.
    torch.testing.assert_close(
        out, _encode_text(clip, names), atol=1e-5, rtol=0)


def test_context_vectors_are_inserted_after_sos(clip):
    """Context set to the embeddings of 'a photo of' = that text prompt."""
    encoder = _encoder(clip, num_context=3)
    assert encoder.prompt_length == 3 + 5
    words = open_clip.tokenize('a photo of')[0, 1:4]
    with torch.no_grad():
        encoder.context.copy_(clip.token_embedding.weight[words])
    expected = _encode_text(clip, [f'a photo of {name}' for name in NAMES])
    torch.testing.assert_close(encoder.eval()(), expected, atol=1e-5, rtol=0)


def _full_prompts_reference(encoder):
    """The K full prompts run through open_clip's transformer as a batch."""
    clip = encoder.clip
    embedded = clip.token_embedding(encoder.name_tokens)
    num = embedded.shape[0]
    x = torch.cat([
        embedded[:, :1],
        encoder.context.unsqueeze(0).expand(num, -1, -1), embedded[:, 1:]
    ],
                  dim=1)
    length = x.shape[1]
    x = clip.transformer(
        x + clip.positional_embedding[:length],
        attn_mask=clip.attn_mask[:length, :length])
    eos = clip.ln_final(x[torch.arange(num), encoder.eos_index])
    return eos @ clip.text_projection


@pytest.mark.parametrize('num_context', [0, 1, 5])
def test_shared_prefix_equals_full_prompts_with_gradients(clip, num_context):
    """The shared [SOS] + context run once gives the K full prompts' output
    and the same gradient on the context vectors."""
    encoder = _encoder(clip, num_context=num_context).train()
    weights = torch.randn(K, DIM, generator=torch.Generator().manual_seed(1))
    out = encoder()
    (out * weights).sum().backward()
    grad = encoder.context.grad
    encoder.context.grad = None
    expected = _full_prompts_reference(encoder)
    (expected * weights).sum().backward()
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    if num_context:
        assert grad.abs().sum() > 0
        torch.testing.assert_close(
            grad, encoder.context.grad, atol=1e-5, rtol=1e-4)
    assert all(p.grad is None for p in encoder.clip.parameters())


def test_causal_attention_memory_equals_concatenated_sequence():
    torch.manual_seed(0)
    attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    memory, x = torch.randn(1, 3, 8), torch.randn(4, 5, 8)
    full = torch.cat([memory.expand(4, -1, -1), x], dim=1)
    mask = torch.full((8, 8), float('-inf')).triu(1)
    expected = attn(full, full, full, attn_mask=mask, need_weights=False)[0]
    torch.testing.assert_close(
        causal_attention(attn, x, memory), expected[:, 3:])
    torch.testing.assert_close(causal_attention(attn, full), expected)


@pytest.mark.slow
def test_text_encoder_full_size_shape():
    encoder = PromptTextEncoder(NAMES[:1])
    assert encoder.prompt_length == 13
    assert encoder.context.shape == (8, 512)
    assert encoder().shape == (1, 1024)
    assert not any(p.requires_grad for p in encoder.clip.parameters())


def test_load_clip_mismatch_errors(clip):
    with pytest.raises(CLIPWeightsError, match='missing keys.*resblocks.2'):
        _encoder(layers=3).load_clip(clip.state_dict())
    with pytest.raises(CLIPWeightsError) as error:
        _encoder(embed_dim=64).load_clip(clip.state_dict())
    assert 'text_projection: expected (32, 64), got (32, 32)' in str(
        error.value)
    assert 'embed_dim=64' in str(error.value)
    state = dict(clip.state_dict())
    state['transformer.resblocks.9.ln_1.weight'] = torch.ones(DIM)
    with pytest.raises(CLIPWeightsError, match='unexpected keys'):
        _encoder().load_clip(state)


def test_gradients_reach_learnables_not_frozen_text(clip):
    neck = _neck().train()
    neck.text_encoder.load_clip(clip.state_dict())
    feats = _feats()
    out = neck(feats)
    (out.score_map.square().sum() + out.text.square().sum()).backward()
    learnable = {
        'context': neck.text_encoder.context,
        'gamma': neck.gamma,
        **{
            f'prompt_encoder.{n}': p
            for n, p in neck.prompt_encoder.named_parameters()
        },
        **{
            f'context_decoder.{n}': p
            for n, p in neck.context_decoder.named_parameters()
        },
    }
    for name, param in learnable.items():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    for name, param in neck.text_encoder.clip.named_parameters():
        assert not param.requires_grad and param.grad is None, name
    assert not neck.text_encoder.clip.training  # frozen CLIP stays in eval


def test_score_map_is_cosine_similarity():
    neck = _neck().eval()
    level, dense, global_feat = feats = _feats(batch=2, size=(4, 3))
    out = neck(feats)
    assert isinstance(out, PromptPoseFeatures)
    assert out.visual == (level, )
    assert out.dense is dense
    assert out.score_map.shape == (2, K, 4, 3)
    assert out.text.shape == (2, K, DIM)
    assert out.score_map.abs().max() <= 1 + 1e-6
    expected = F.cosine_similarity(dense[1, :, 2, 1], out.text[1, 3], dim=0)
    torch.testing.assert_close(out.score_map[1, 3, 2, 1], expected)
    # The context decoder makes the prompts image dependent.
    assert not torch.allclose(out.text[0], out.text[1])


def test_gamma_scales_the_decoder_refinement():
    neck = _neck().eval()
    feats = _feats()
    assert torch.equal(neck.gamma, torch.full((DIM, ), 1e-3))
    prompts = neck.prompt_encoder(neck.text_encoder())
    with torch.no_grad():
        neck.gamma.zero_()
    out = neck(feats)
    torch.testing.assert_close(out.text, prompts.expand(2, -1, -1))


@pytest.mark.parametrize('prompt_encoder', [None, dict(num_heads=2)])
@pytest.mark.parametrize('context_decoder', [None, dict(width=16)])
def test_ablations(prompt_encoder, context_decoder):
    neck = _neck(
        prompt_encoder=prompt_encoder, context_decoder=context_decoder)
    assert (neck.prompt_encoder is None) == (prompt_encoder is None)
    assert (neck.context_decoder is None) == (context_decoder is None)
    assert (neck.gamma is None) == (context_decoder is None)
    out = neck.eval()(_feats())
    assert out.score_map.shape == (2, K, 4, 3)
    if prompt_encoder is None and context_decoder is None:
        expected = neck.text_encoder().expand(2, -1, -1)
        torch.testing.assert_close(out.text, expected)


def test_prompt_encoder_and_decoder_shapes():
    encoder = PromptEncoder(DIM, num_heads=2)
    prompts = torch.randn(K, DIM)
    assert encoder(prompts).shape == (K, DIM)
    torch.testing.assert_close(
        encoder(prompts.expand(3, -1, -1))[1], encoder(prompts))
    decoder = ContextDecoder(DIM, width=16, layers=1, num_heads=4).eval()
    out = decoder(torch.randn(2, K, DIM), torch.randn(2, 13, DIM))
    assert out.shape == (2, K, DIM)
    with pytest.raises(ValueError, match='divisible'):
        PromptEncoder(DIM, num_heads=3)


def test_names_from_metainfo():
    neck = _neck(
        keypoint_names=None,
        metainfo=dict(from_file='configs/_base_/datasets/ap10k.py'))
    assert neck.num_keypoints == 17
    assert neck.keypoint_names[7] == 'left front paw'
    assert neck.eval()(_feats()).score_map.shape == (2, 17, 4, 3)


def test_count_errors_at_build():
    ap10k = dict(from_file='configs/_base_/datasets/ap10k.py')
    with pytest.raises(ValueError, match='gives 4 .* gives 17'):
        _neck(metainfo=ap10k)
    with pytest.raises(ValueError, match='gives 4 .*num_keypoints gives 5'):
        _neck(num_keypoints=5)
    with pytest.raises(ValueError, match=r'metainfo=dict\(from_file='):
        _neck(keypoint_names=None)


def test_pretrained_init_cfg(clip, clip_file):
    neck = _neck(
        prompt_encoder=None,
        context_decoder=None,
        num_context=0,
        init_cfg=dict(type='PretrainedCLIP', checkpoint=clip_file))
    neck.init_weights()
    torch.testing.assert_close(
        neck.text_encoder.eval()(),
        _encode_text(clip, NAMES),
        atol=1e-5,
        rtol=0)
    missing = _neck(
        init_cfg=dict(type='PretrainedCLIP', checkpoint='/nowhere/RN50.pt'))
    with pytest.raises(CLIPWeightsError, match='not found: /nowhere/RN50.pt'):
        missing.init_weights()


def test_bad_backbone_output():
    neck = _neck()
    level, dense, global_feat = _feats()
    with pytest.raises(ValueError, match='with_clip_space=True'):
        neck((level, ))
    with pytest.raises(ValueError, match='RN50: 1024'):
        neck((level, dense[:, :16], global_feat[:, :16]))


# ---------------------------------------------------------------------------
# The eval-mode prompt cache
# ---------------------------------------------------------------------------
def _count_runs(neck):
    """The real runs of the neck's text and prompt encoders, recorded by
    forward hooks: ``runs.count('text')``, ``runs.count('prompt')``."""
    runs = []
    neck.text_encoder.register_forward_hook(lambda *_: runs.append('text'))
    if neck.prompt_encoder is not None:
        neck.prompt_encoder.register_forward_hook(
            lambda *_: runs.append('prompt'))
    return runs


@torch.no_grad()
def _fresh_prompts(neck):
    """The prompts computed afresh from the current weights: ``(K, D)``."""
    return neck.prompt_encoder(neck.text_encoder())


def _flipped(feats):
    return tuple(f.flip(-1) if f.dim() == 4 else f for f in feats)


def test_prompt_cache_runs_the_encoders_once_at_inference():
    neck = _neck().eval()
    runs = _count_runs(neck)
    with torch.no_grad():
        neck(_feats(seed=0))
        neck(_feats(seed=1))
        feats = _feats(seed=2)  # flip test: image and flipped image
        neck(feats)
        neck(_flipped(feats))
    prompts = neck.prompts()
    assert runs == ['text', 'prompt']
    assert prompts.shape == (K, DIM) and not prompts.requires_grad
    # eval() in eval mode (the benchmark's and each ValLoop's call) keeps it.
    neck.eval()
    assert neck.prompts() is prompts and runs == ['text', 'prompt']
    torch.testing.assert_close(prompts, _fresh_prompts(neck))


def test_prompt_cache_training_mode_recomputes_and_invalidates():
    neck = _neck().eval()
    runs = _count_runs(neck)
    before = neck.prompts()
    neck.train()
    for _ in range(3):
        neck(_feats())
    assert neck.prompts().requires_grad
    assert runs.count('text') == runs.count('prompt') == 1 + 4
    # Weights copied in place while training, as EMAHook swaps the averaged
    # weights in before ValLoop's eval(): eval mode computes them afresh.
    with torch.no_grad():
        neck.text_encoder.context.mul_(2)
    neck.eval()
    after = neck.prompts()
    neck.prompts()
    assert runs.count('text') == runs.count('prompt') == 1 + 4 + 1
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, _fresh_prompts(neck))


@pytest.mark.parametrize('part', ['text_encoder', 'prompt_encoder'])
def test_prompt_cache_optimizer_step_invalidates(part):
    """A step on the context or on the prompt encoder alone gives new
    prompts in eval mode; so does any optimizer's step (conservatively):
    the prompts are computed again, once, and are unchanged."""
    neck = _neck().eval()
    runs = _count_runs(neck)
    with torch.no_grad():
        first = neck(_feats())
    params = list(getattr(neck, part).parameters())
    optimizer = torch.optim.SGD(params, lr=0.1)
    for param in params:
        param.grad = torch.ones_like(param)
    optimizer.step()
    with torch.no_grad():
        second = neck(_feats())
        neck(_feats(seed=1))
    assert runs.count('text') == runs.count('prompt') == 2
    assert not torch.allclose(first.score_map, second.score_map)
    torch.testing.assert_close(neck.prompts(), _fresh_prompts(neck))

    stepped = neck.prompts()
    other = torch.nn.Linear(2, 2)
    other.weight.grad = torch.ones_like(other.weight)
    torch.optim.SGD([other.weight], lr=0.1).step()
    assert torch.equal(neck.prompts(), stepped)
    assert runs.count('text') == runs.count('prompt') == 2 + 1 + 1


def test_prompt_cache_load_state_dict_invalidates(clip):
    from mmengine.runner.checkpoint import load_state_dict
    neck = _neck().eval()
    runs = _count_runs(neck)
    before = neck.prompts()
    # On the neck itself.
    state = neck.state_dict()
    state['prompt_encoder.norm.bias'] = state['prompt_encoder.norm.bias'] + 1
    neck.load_state_dict(state)
    loaded = neck.prompts()
    assert runs.count('prompt') == 2
    torch.testing.assert_close(loaded, before + 1)
    # On an ancestor, through mmengine's loader (as load_checkpoint does).
    model = torch.nn.Sequential(neck)
    state = model.state_dict()
    state['0.text_encoder.context'] = state['0.text_encoder.context'] * 2
    load_state_dict(model, state, strict=True)
    loaded = neck.prompts()
    assert runs.count('text') == 3
    assert not torch.allclose(loaded, before + 1)
    # On a submodule: the CLIP text tower.
    neck.text_encoder.load_clip(clip.state_dict())
    loaded = neck.prompts()
    assert runs.count('text') == runs.count('prompt') == 4
    torch.testing.assert_close(loaded, _fresh_prompts(neck))


def test_prompt_cache_dtype_device_and_storage_changes_invalidate():
    neck = _neck().eval()
    runs = _count_runs(neck)
    before = neck.prompts()
    assert neck.double().prompts().dtype == torch.float64
    assert runs.count('text') == runs.count('prompt') == 2
    after = neck.float().prompts()
    assert after.dtype == torch.float32
    assert runs.count('text') == runs.count('prompt') == 3
    torch.testing.assert_close(after, before)
    # The storage: a replaced .data.
    context = neck.text_encoder.context
    context.data = context.data * 2
    assert not torch.allclose(neck.prompts(), before)
    assert runs.count('text') == 4
    # The device (the meta device stands for a second device on a CPU-only
    # machine).
    assert neck.to('meta').prompts().device.type == 'meta'
    assert runs.count('text') == runs.count('prompt') == 5


def test_prompt_cache_misses_an_in_place_edit_until_cleared():
    """What is not noticed: an edit in place outside an optimizer step or
    ``load_state_dict``. ``clear_prompt_cache()`` (or a mode switch) is
    the way to take it into account."""
    neck = _neck().eval()
    runs = _count_runs(neck)
    before = neck.prompts()
    with torch.no_grad():
        neck.prompt_encoder.norm.bias.add_(0.5)
    assert neck.prompts() is before and runs.count('prompt') == 1
    neck.clear_prompt_cache()
    torch.testing.assert_close(neck.prompts(), before + 0.5)
    assert runs.count('text') == runs.count('prompt') == 2


def test_prompt_cache_without_prompt_encoder():
    neck = _neck(prompt_encoder=None).eval()
    runs = _count_runs(neck)
    prompts = neck.prompts()
    neck(_feats())
    assert runs == ['text']
    torch.testing.assert_close(prompts, neck.text_encoder())


def test_deep_copy_caches_its_own_prompts():
    """EMA hooks and model copies deep-copy the neck: the copy's cache
    must follow the copy's weights, not the original's, and what
    invalidates the copy's must leave the original's alone."""
    import copy
    neck = _neck().eval()
    original = neck.prompts().clone()
    twin = copy.deepcopy(neck)
    runs, twin_runs = _count_runs(neck), _count_runs(twin)
    # The copy's weights have their own storage: it computes its own once.
    torch.testing.assert_close(twin.prompts(), original)
    twin.prompts()
    assert runs == [] and twin_runs == ['text', 'prompt']
    # load_state_dict on the copy: its hooks clear its own cache.
    state = twin.state_dict()
    state['prompt_encoder.norm.bias'] = state['prompt_encoder.norm.bias'] + 1
    twin.load_state_dict(state)
    torch.testing.assert_close(twin.prompts(), original + 1.0)
    torch.testing.assert_close(neck.prompts(), original)
    assert runs == [] and twin_runs == ['text', 'prompt'] * 2
    # An optimizer step on the copy: it recomputes from its own weights.
    bias = twin.prompt_encoder.norm.bias
    bias.grad = torch.ones_like(bias)
    torch.optim.SGD([bias], lr=1.0).step()
    torch.testing.assert_close(twin.prompts(), original)
    torch.testing.assert_close(neck.prompts(), original)


# ---------------------------------------------------------------------------
# The published training behaviour (context decoder, context init)
# ---------------------------------------------------------------------------
def test_context_decoder_qkv_have_no_bias():
    decoder = ContextDecoder(DIM, width=16, layers=2, num_heads=2)
    for layer in decoder.decoder:
        for attn in (layer.self_attn, layer.cross_attn):
            for proj in (attn.q_proj, attn.k_proj, attn.v_proj):
                assert proj.bias is None
            assert attn.proj.bias is not None
    names = [name for name, _ in decoder.named_parameters()]
    assert not [n for n in names if re.search(r'[qkv]_proj\.bias|in_proj', n)]
    # per layer: 2 x (q, k, v, proj.weight, proj.bias), 3 norms, 2 MLP linears
    assert sum(p.numel() for p in decoder.decoder[0].parameters()) == (
        2 * (4 * 16 * 16 + 16) + 3 * 2 * 16 + (16 * 64 + 64) + (64 * 16 + 16))


@torch.no_grad()
def test_context_decoder_does_not_drop_attention_probabilities():
    """Train mode with every nn.Dropout of the decoder at p=0 (dropout 0.1
    only sits after the output projections and in the MLP) is deterministic
    and equals eval mode: nothing drops attention probabilities."""
    torch.manual_seed(0)
    decoder = ContextDecoder(DIM, width=16, layers=2, num_heads=2, dropout=0.1)
    dropouts = [
        m for m in decoder.modules() if isinstance(m, torch.nn.Dropout)
    ]
    # per layer: self and cross attention output, inside and after the MLP
    assert len(dropouts) == 4 * 2 and {m.p for m in dropouts} == {0.1}
    text, visual = torch.randn(2, K, DIM), torch.randn(2, 13, DIM)
    expected = decoder.eval()(text, visual)
    decoder.train()
    torch.manual_seed(1)
    dropped = decoder(text, visual)
    assert (dropped - expected).abs().max() > 1e-4  # the dropouts act
    for module in dropouts:
        module.p = 0.0
    for seed in (1, 2):
        torch.manual_seed(seed)
        torch.testing.assert_close(
            decoder(text, visual), expected, atol=1e-6, rtol=0)


def test_context_decoder_init_statistics():
    """Every Linear trunc_normal_(std=0.02) (cut at +-2 as the published
    call) with zero bias, LayerNorms one and zero."""
    torch.manual_seed(0)
    decoder = ContextDecoder(256, width=256, layers=3, num_heads=4)
    linears = [m for m in decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2 + 1 + 3 * (2 * 4 + 2)
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert weights.numel() > 2_000_000
    assert abs(weights.std().item() - 0.02) < 0.0005
    assert abs(weights.mean().item()) < 1e-4
    assert weights.abs().max() <= 2.0
    qkv = torch.cat([
        proj.weight.flatten() for layer in decoder.decoder
        for attn in (layer.self_attn, layer.cross_attn)
        for proj in (attn.q_proj, attn.k_proj, attn.v_proj)
    ])
    assert abs(qkv.std().item() - 0.02) < 0.0005
    for module in linears:
        if module.bias is not None:
            assert not module.bias.any()
    for module in decoder.modules():
        if isinstance(module, torch.nn.LayerNorm):
            assert (module.weight == 1).all() and not module.bias.any()


def test_context_vectors_start_truncated_normal():
    """randn, then trunc_normal_ with its defaults (std 1, cut at +-2): the
    std of a standard normal truncated at +-2 is 0.880."""
    torch.manual_seed(0)
    encoder = _encoder(num_context=64)
    context = encoder.context.detach()
    assert context.shape == (64, TINY_TEXT['width'])
    values = torch.cat([
        context.flatten(),
        _encoder(num_context=64).context.detach().flatten()
    ])
    assert values.numel() >= 4096
    assert abs(values.std().item() - 0.880) < 0.03
    assert abs(values.mean().item()) < 0.05
    assert values.abs().max() <= 2.0
    # truncated: nothing beyond 2, yet well spread (not std 0.02)
    assert values.abs().max() > 1.8


@torch.no_grad()
def test_context_decoder_reads_the_former_layout():
    """A checkpoint of the former nn.TransformerDecoderLayer layout (q/k/v
    bias zero) loads strictly and gives the same output; a nonzero q/k/v
    bias, which the DenseCLIP layer has no place for, is reported."""
    torch.manual_seed(0)
    old = torch.nn.TransformerDecoderLayer(
        16,
        2,
        dim_feedforward=64,
        dropout=0.1,
        activation='gelu',
        batch_first=True,
        norm_first=True).eval()
    for attn in (old.self_attn, old.multihead_attn):
        attn.in_proj_bias.zero_()
    layer = ContextDecoderLayer(16, 2).eval()
    layer.load_state_dict(old.state_dict(), strict=True)
    x, memory = torch.randn(2, K, 16), torch.randn(2, 13, 16)
    torch.testing.assert_close(
        layer(x, memory), old(x, memory), atol=1e-6, rtol=0)
    old.self_attn.in_proj_bias.fill_(0.5)
    with pytest.raises(RuntimeError, match='self_attn.in_proj_bias'):
        ContextDecoderLayer(16, 2).load_state_dict(old.state_dict())
