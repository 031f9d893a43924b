"""Why PromptPose learns slower than SimpleBaseline at random init: numbers.

On one training batch of a real labelled set (a DeepLabCut project,
converted and configured exactly as ``compare_on_labels.py`` does), both
models built with random weights and initialised as MMEngine's Runner
does (``init_weights``), this prints:

1. the losses at init and the gradient norm each loss (``loss_kpt``,
   ``loss_pixel``, ``loss_semantic``) sends into each backbone stage, with
   SimpleBaseline's ``loss_kpt`` for comparison, and what Adam makes of the
   sum (share of backbone weights whose update sign the auxiliary losses
   flip; cosine of the auxiliary and keypoint gradients);
2. the spatial locality of the dense CLIP-space map: the attention pool's
   attention spread (effective number of attended tokens out of 1 + h*w,
   weight on the query's own location), the share of the Jacobian of a
   dense output that falls on its own location, and how similar the dense
   vectors (and the score map) are across locations, against the backbone
   map itself;
3. the share of the keypoint branch's input that the K score-map channels
   take (norm, variance, output of the first deconvolution) and the
   gradient the keypoint loss sends into them;
4. the input scale of the keypoint head and its output at init.

Usage::

    python tools/analysis/diagnose_branches.py PROJECT_DIR \\
        --work-dir work_dirs/dlc_diagnose [--pair res50] [--batch-size 16] \\
        [--seed 0] [--out FILE.md]
"""
import argparse
import importlib.util
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LOSSES = ('loss_kpt', 'loss_pixel', 'loss_semantic')


def _compare_tool():
    path = osp.join(ROOT, 'tools', 'analysis', 'compare_on_labels.py')
    spec = importlib.util.spec_from_file_location('compare_on_labels', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    pairs = _compare_tool().PAIRS
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('project', help='DeepLabCut project folder')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--pair', choices=sorted(pairs), default='res50')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='KEY=VALUE overrides of the PromptPose config (e.g. to '
        'diagnose a variant); python literals')
    parser.add_argument('--out', default=None, help='also write the report')
    return parser.parse_args(argv)


def build_initialised(config: str, seed: int, options: dict = None):
    """Build the config's model with the seed, then ``init_weights``."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import set_random_seed
    from mmpose.registry import MODELS

    from promptpose_mm.apis import load_config
    cfg = load_config(config, options)
    init_default_scope('mmpose')
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    return cfg, model


def real_batch(cfg, batch_size: int, seed: int, model) -> dict:
    """``batch_size`` training samples through the config's pipeline and
    the model's data preprocessor."""
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import set_random_seed
    from mmpose.registry import DATASETS
    set_random_seed(seed)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    samples = [dataset[i % len(dataset)] for i in range(batch_size)]
    return model.data_preprocessor(pseudo_collate(samples), training=True)


def stage_params(backbone) -> Dict[str, List[torch.nn.Parameter]]:
    """Trainable parameters of each backbone stage."""
    clip = backbone.clip
    stages = {
        'stem': [
            p for n, p in clip.named_parameters()
            if not n.startswith(('layer', 'attnpool'))
        ]
    }
    for i in range(1, 5):
        stages[f'layer{i}'] = list(getattr(clip, f'layer{i}').parameters())
    if getattr(clip, 'attnpool', None) is not None:
        stages['attnpool'] = list(clip.attnpool.parameters())
    return stages


def _flat(grads: Sequence[Optional[torch.Tensor]],
          params: Sequence[torch.nn.Parameter]) -> torch.Tensor:
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                      for g, p in zip(grads, params)])


def loss_gradients(model, batch: dict) -> Dict[str, dict]:
    """Each loss's gradient per backbone stage (flattened)."""
    feats = model.extract_feat(batch['inputs'])
    losses = model.head.loss(feats, batch['data_samples'])
    stages = stage_params(model.backbone)
    names = list(stages)
    params = [p for stage in names for p in stages[stage]]
    out = {}
    for name in LOSSES:
        if name not in losses:
            continue
        # one backward pass per loss, split by stage afterwards
        grads = torch.autograd.grad(
            losses[name], params, retain_graph=True, allow_unused=True)
        per_stage, start = {}, 0
        for stage in names:
            count = len(stages[stage])
            per_stage[stage] = _flat(grads[start:start + count], stages[stage])
            start += count
        out[name] = dict(value=float(losses[name]), grads=per_stage)
    return out


def attention_spread(pool, x: torch.Tensor, pos_embed: torch.Tensor) -> dict:
    """The attention pool's attention at every query.

    Returns the mean over batch, heads and queries of the effective number
    of attended tokens ``exp(entropy)`` (out of ``1 + h*w``) and of the
    weight a location puts on itself.
    """
    tokens = x.flatten(2).permute(2, 0, 1)
    tokens = torch.cat([tokens.mean(0, keepdim=True), tokens
                        ]) + pos_embed[:, None]
    length, batch, width = tokens.shape
    heads = pool.num_heads
    q = F.linear(tokens, pool.q_proj.weight, pool.q_proj.bias)
    k = F.linear(tokens, pool.k_proj.weight, pool.k_proj.bias)
    q = q.reshape(length, batch * heads, -1).transpose(0, 1)
    k = k.reshape(length, batch * heads, -1).transpose(0, 1)
    attn = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1]**0.5, dim=-1)
    entropy = -(attn * attn.clamp_min(1e-12).log()).sum(-1)
    self_weight = attn.diagonal(dim1=1, dim2=2)[:, 1:]
    logits = q @ k.transpose(1, 2) / q.shape[-1]**0.5
    return dict(
        tokens=length,
        effective_tokens=float(entropy.exp()[:, 1:].mean()),
        self_weight=float(self_weight.mean()),
        logit_std=float(logits[:, 1:, 1:].std(-1).mean()))


def jacobian_locality(backbone, x: torch.Tensor, samples: int = 8) -> dict:
    """Share of d dense[p] / d x4 that falls on location p itself.

    For ``samples`` random locations ``p`` and random unit directions in
    CLIP space, the norm of the gradient with respect to the last backbone
    map at every location; the share of its square on ``p`` (1 for a
    per-location projection, ``1 / (h*w)`` for full mixing) and on ``p``'s
    3x3 neighbourhood.
    """
    from promptpose_mm.models.backbones.clip_resnet import \
        attention_pool_tokens
    x = x.detach()[:2].clone().requires_grad_(True)
    _, _, height, width = x.shape
    pos_embed = backbone.pos_embed_for((height, width))
    tokens = attention_pool_tokens(backbone.clip.attnpool, x, pos_embed)
    dense = tokens[1:]  # (h*w, B, D)
    gen = torch.Generator().manual_seed(0)
    own, near = [], []
    for _ in range(samples):
        p = int(torch.randint(height * width, (1, ), generator=gen))
        u = torch.randn(dense.shape[-1], generator=gen)
        (grad, ) = torch.autograd.grad(
            (dense[p] * u).sum(), x, retain_graph=True)
        energy = grad.pow(2).sum(1).mean(0)  # (h, w)
        total = float(energy.sum())
        row, col = divmod(p, width)
        own.append(float(energy[row, col]) / total)
        near.append(
            float(energy[max(row - 1, 0):row + 2,
                         max(col - 1, 0):col + 2].sum()) / total)
    return dict(own=float(np.mean(own)), near=float(np.mean(near)))


def location_similarity(feature: torch.Tensor) -> dict:
    """Mean cosine between locations of each image, and the spatial
    standard deviation over the mean norm (0: the same at every place)."""
    flat = F.normalize(feature.detach().flatten(2), dim=1)  # (B, C, N)
    cos = flat.transpose(1, 2) @ flat
    n = cos.shape[-1]
    off = (cos.sum((1, 2)) - cos.diagonal(dim1=1, dim2=2).sum(-1)) / (
        n * (n - 1))
    raw = feature.detach().flatten(2)
    spread = raw.std(-1).norm(dim=1) / raw.norm(dim=1).mean(-1)
    return dict(cosine=float(off.mean()), spread=float(spread.mean()))


def fusion_share(model, feats, batch: dict) -> dict:
    """How much of the keypoint branch's input the score map is."""
    visual = feats.visual[-1].detach()
    score = feats.score_map.detach()
    channels = visual.shape[1]
    norm_share = score.pow(2).sum() / (
        visual.pow(2).sum() + score.pow(2).sum())
    var_v = visual.var(dim=(0, 2, 3)).sum()
    var_s = score.var(dim=(0, 2, 3)).sum()
    deconv = model.head.deconv_layers[0]
    weight = deconv.weight  # (C_in, C_out, k, k)
    out_v = F.conv_transpose2d(visual, weight[:channels], stride=2, padding=1)
    out_s = F.conv_transpose2d(score, weight[channels:], stride=2, padding=1)
    fused = torch.cat([visual, score], 1).requires_grad_(True)
    heatmaps = model.head.final_layer(
        model.head.conv_layers(model.head.deconv_layers(fused)))
    target = torch.stack([d.gt_fields.heatmaps for d in batch['data_samples']])
    weights = torch.cat(
        [d.gt_instance_labels.keypoint_weights for d in batch['data_samples']])
    loss = model.head.loss_module(heatmaps, target, weights)
    (grad, ) = torch.autograd.grad(loss, fused)
    return dict(
        norm=float(norm_share),
        variance=float(var_s / (var_v + var_s)),
        deconv_output=float(out_s.norm() / (out_v.norm() + out_s.norm())),
        grad_per_channel_ratio=float(grad[:, channels:].pow(2).mean().sqrt() /
                                     grad[:, :channels].pow(2).mean().sqrt()),
        score_abs_mean=float(score.abs().mean()),
        score_spatial_std=float(score.std(dim=(2, 3)).mean()),
        visual_abs_mean=float(visual.abs().mean()))


def _fmt(value: float) -> str:
    return f'{value:.3g}'


def diagnose(configs: Dict[str, str],
             batch_size: int,
             seed: int,
             options: Optional[dict] = None) -> str:
    """Run every measurement and return the report (Markdown)."""
    from promptpose_mm.analysis.benchmark import markdown_table
    lines = []
    cfg_p, promptpose = build_initialised(configs['promptpose'], seed, options)
    cfg_b, baseline = build_initialised(configs['simplebaseline'], seed)
    batch = real_batch(cfg_p, batch_size, seed, promptpose)
    batch_b = real_batch(cfg_b, batch_size, seed, baseline)
    assert torch.equal(batch['inputs'], batch_b['inputs'])
    same_trunk = all(
        torch.equal(a, b) for a, b in zip([
            p for n, p in promptpose.backbone.clip.named_parameters()
            if not n.startswith('attnpool')
        ], baseline.backbone.clip.parameters()))

    grads_p = loss_gradients(promptpose, batch)
    grads_b = loss_gradients(baseline, batch_b)
    stages = list(grads_p['loss_kpt']['grads'])
    lines += [
        f'## 1. Gradient norm each loss sends into the backbone '
        f'(batch {batch_size}, random init, seed {seed}; identical '
        f'trunk weights in both models: {same_trunk})', ''
    ]
    header = ['loss', 'value'] + stages
    rows = [['SimpleBaseline loss_kpt',
             _fmt(grads_b['loss_kpt']['value'])] + [
                 _fmt(float(grads_b['loss_kpt']['grads'][s].norm()))
                 if s in grads_b['loss_kpt']['grads'] else '-' for s in stages
             ]]
    for name, entry in grads_p.items():
        rows.append(
            [f'PromptPose {name}', _fmt(entry['value'])] +
            [_fmt(float(entry['grads'][s].norm())) for s in stages])
    lines += markdown_table(header, rows)
    kpt = grads_p['loss_kpt']['grads']
    total = {
        s: sum(entry['grads'][s] for entry in grads_p.values())
        for s in stages
    }
    aux = {s: total[s] - kpt[s] for s in stages}
    rows = []
    for s in stages:
        used = (kpt[s] != 0) | (aux[s] != 0)
        dominated = (aux[s].abs() > kpt[s].abs())[used].float().mean()
        flipped = (torch.sign(total[s])
                   != torch.sign(kpt[s]))[kpt[s] != 0].float().mean()
        cos = F.cosine_similarity(aux[s], kpt[s], dim=0)
        rows.append([
            s,
            _fmt(float(aux[s].norm() / kpt[s].norm().clamp_min(1e-30))),
            _fmt(float(cos)),
            _fmt(float(dominated)),
            _fmt(float(flipped))
        ])
    lines += ['', 'What Adam sees in PromptPose (aux = pixel + semantic):', '']
    lines += markdown_table([
        'stage', '|g_aux| / |g_kpt|', 'cos(g_aux, g_kpt)',
        'weights where |g_aux| > |g_kpt|',
        'weights whose first Adam step has the sign of -g_kpt flipped'
    ], rows)

    # 2. locality of the dense CLIP-space map
    with torch.no_grad():
        feats = promptpose.extract_feat(batch['inputs'])
        levels, _ = promptpose.backbone._forward_levels(batch['inputs'])
    x4 = levels[3]
    h, w = x4.shape[-2:]
    pos = promptpose.backbone.pos_embed_for((h, w))
    spread = attention_spread(promptpose.backbone.clip.attnpool, x4, pos)
    local = jacobian_locality(promptpose.backbone, x4)
    sim_x = location_similarity(x4)
    sim_d = location_similarity(feats.dense)
    sim_s = location_similarity(feats.score_map)
    lines += [
        '', '## 2. Spatial locality of the dense CLIP-space map at init', ''
    ]
    lines += markdown_table(['measure', 'value'], [
        [
            'attention pool: effective attended tokens per query '
            '(exp entropy)', f'{spread["effective_tokens"]:.1f} of '
            f'{spread["tokens"]}'
        ],
        [
            'attention pool: weight on own location (uniform: '
            f'{1 / spread["tokens"]:.3f})',
            _fmt(spread['self_weight'])
        ],
        [
            'attention pool: std of attention logits over keys',
            _fmt(spread['logit_std'])
        ],
        [
            'dense[p] Jacobian energy on p itself (local map: 1, full '
            f'mixing: {1 / (h * w):.3f})',
            _fmt(local['own'])
        ],
        ['... on the 3x3 neighbourhood of p',
         _fmt(local['near'])],
        [
            'mean cosine between locations: backbone map x4',
            _fmt(sim_x['cosine'])
        ],
        ['mean cosine between locations: dense map',
         _fmt(sim_d['cosine'])],
        ['spatial std / mean norm: backbone map x4',
         _fmt(sim_x['spread'])],
        ['spatial std / mean norm: dense map',
         _fmt(sim_d['spread'])],
        [
            'spatial std / mean norm: score map (K channels)',
            _fmt(sim_s['spread'])
        ],
    ])

    # 3. fusion share
    share = fusion_share(promptpose, feats, batch)
    num_k = feats.score_map.shape[1]
    lines += [
        '', f'## 3. Score map ({num_k} channels) in the input of the keypoint '
        f'branch ({x4.shape[1]} + {num_k} channels)', ''
    ]
    lines += markdown_table(['measure', 'value'], [
        ['share of the squared norm',
         _fmt(share['norm'])],
        ['share of the summed channel variance',
         _fmt(share['variance'])],
        [
            'share of the first deconv output norm (|W_S*S| / (|W_x*x| + '
            '|W_S*S|))',
            _fmt(share['deconv_output'])
        ],
        [
            'loss_kpt gradient per score channel / per backbone channel '
            '(RMS)',
            _fmt(share['grad_per_channel_ratio'])
        ],
        ['score map |S| mean (cosine)',
         _fmt(share['score_abs_mean'])],
        [
            'score map spatial std per channel',
            _fmt(share['score_spatial_std'])
        ],
        ['backbone map |x4| mean',
         _fmt(share['visual_abs_mean'])],
    ])

    # 4. head input scale and output at init
    with torch.no_grad():
        out_p = promptpose.head.forward(feats)
        out_b = baseline.head.forward(baseline.extract_feat(batch['inputs']))
    target = torch.stack([d.gt_fields.heatmaps for d in batch['data_samples']])
    lines += ['', '## 4. Keypoint head at init', '']
    lines += markdown_table(['measure', 'PromptPose', 'SimpleBaseline'], [
        [
            'heatmap output std',
            _fmt(float(out_p.std())),
            _fmt(float(out_b.std()))
        ],
        ['target heatmap max',
         _fmt(float(target.max())), '-'],
        [
            'final layer weight std',
            _fmt(float(promptpose.head.final_layer.weight.std())),
            _fmt(float(baseline.head.final_layer.weight.std()))
        ],
    ])
    if promptpose.head.pixel_branch is not None:
        with torch.no_grad():
            pix = promptpose.head.forward_pixel(feats)
        first = next(m for m in promptpose.head.pixel_branch.modules()
                     if isinstance(m, torch.nn.ConvTranspose2d))
        with torch.no_grad():
            pre_bn = first(feats.score_map)
        lines += [
            '', f'Pixel branch at init: output std {_fmt(float(pix.std()))}, '
            f'first deconv weight std {_fmt(float(first.weight.std()))}, '
            f'pre-BatchNorm activation std {_fmt(float(pre_bn.std()))} '
            '(BatchNorm rescales it to 1, so the gradient into the score '
            f'map is about 1/{_fmt(float(pre_bn.std()))} times larger '
            'than without it).'
        ]
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    from mmengine.config import DictAction

    from promptpose_mm.analysis import label_comparison as comparison
    from promptpose_mm.annotations import import_labels
    tool = _compare_tool()
    pp_config, sb_config = (
        osp.join(tool.CONFIG_DIR, name) for name in tool.PAIRS[args.pair])
    data = import_labels(
        args.project,
        osp.join(args.work_dir, 'data'),
        base_config=pp_config,
        val_every=5)
    configs = comparison.write_protocol_configs(
        data, osp.join(args.work_dir, 'configs'), pp_config, sb_config,
        comparison.Protocol(batch_size=args.batch_size, seed=args.seed))
    options = {}
    if args.cfg_options:
        namespace = argparse.Namespace(o=None)
        DictAction(
            option_strings=[], dest='o')(None, namespace, args.cfg_options)
        options = namespace.o
    torch.set_grad_enabled(True)
    report = diagnose(configs, args.batch_size, args.seed, options)
    print(report)
    if args.out:
        with open(args.out, 'w') as file:
            file.write(report + '\n')
    return report


if __name__ == '__main__':
    main()
