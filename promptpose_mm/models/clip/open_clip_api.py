"""The one place that imports open_clip and touches its internals.

promptpose_mm builds CLIP's towers with open_clip and runs parts of them by
hand (the ResNet's attention pool at every location, the ViT's blocks one
at a time, the text transformer with a shared prompt prefix). Every
attribute, class or function of open_clip that this needs is reached here,
through a small named function or constant whose docstring states the
assumption; ``tests/test_models/test_open_clip_compat.py`` tests each
assumption once against the installed open_clip, and no other module of the
package imports open_clip (also tested).

Supported versions: :data:`OPEN_CLIP_REQUIREMENT` (``>=2.26,<4``), the range
``setup.py`` gives ``open_clip_torch``; ``requirements/stack.txt`` pins the
version the tests run on, inside it.

* Lower bound 2.26.0: the first release whose transformer blocks are
  batch-first (``ResidualAttentionBlock(batch_first=True)`` and
  ``Transformer.batch_first``, both the default). Before it (2.24 and
  older) the blocks are sequence-first: a ``(B, L, C)`` input would attend
  across the batch without any error.
* Upper bound 4 (excluded): open_clip's development line 4.x (``main``
  after 3.3.0, ``4.0.0.dev0`` on) replaces ``nn.MultiheadAttention`` in
  the blocks by its own attention module (no packed ``in_proj_weight``, no
  ``batch_first``) and removes the TorchScript loader of OpenAI archives;
  the assumptions below do not hold there.

Key names: the towers' state dicts use OpenAI's CLIP key names (without
``visual.`` for the visual towers), so the released checkpoints load with a
plain ``load_state_dict``.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import open_clip
import torch
import torch.nn.functional as F
from open_clip import pretrained as _pretrained
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
from open_clip.modified_resnet import AttentionPool2d, ModifiedResNet
from open_clip.transformer import (LayerNorm, QuickGELU,
                                   ResidualAttentionBlock, TextTransformer,
                                   VisionTransformer)
from torch import Tensor, nn

#: The ``open_clip_torch`` versions these assumptions hold for (setup.py).
OPEN_CLIP_REQUIREMENT = '>=2.26,<4'
#: The installed open_clip's version.
OPEN_CLIP_VERSION: str = open_clip.__version__

__all__ = [
    'OPEN_CLIP_REQUIREMENT', 'OPEN_CLIP_VERSION', 'AttentionPool2d',
    'LayerNorm', 'QuickGELU', 'ResidualAttentionBlock', 'build_layer_norm',
    'build_residual_block', 'run_block_batch_first', 'share_block_parts',
    'block_attention', 'block_attention_input', 'block_self_attention',
    'block_mlp_activation', 'is_quick_gelu', 'residual_block_forward',
    'attention_in_projection', 'transformer_blocks', 'RESNET_NUM_LAYERS',
    'RESNET_STEM_NAMES', 'RESNET_POS_EMBED_KEY', 'RESNET_CLIP_SPACE_NAMES',
    'build_resnet_tower', 'resnet_stem', 'resnet_stem_parts', 'resnet_layer',
    'resnet_attention_pool', 'attention_pool_tokens', 'VIT_POS_EMBED_KEY',
    'VIT_CLIP_SPACE_NAMES', 'build_vit_tower', 'vit_stem_parts',
    'vit_patch_tokens', 'vit_input_tokens', 'vit_final_norm', 'vit_project',
    'TEXT_STATE_PREFIXES', 'build_text_tower', 'text_tower_config',
    'text_embed_dim', 'text_cast_dtype', 'text_positions', 'text_embed',
    'text_final', 'SOT_TOKEN', 'EOT_TOKEN', 'tokenize', 'list_pretrained_tags',
    'download_pretrained_tag', 'download_url', 'build_clip_model',
    'clip_model_image_size', 'clip_model_context_length'
]

Grid = Tuple[int, int]


# ---------------------------------------------------------------------------
# Transformer blocks (ViT, text tower, prompt encoder)
# ---------------------------------------------------------------------------
def build_layer_norm(width: int) -> nn.Module:
    """open_clip's ``LayerNorm`` (computes in the input's dtype) of
    ``width`` channels, ``(..., width) -> (..., width)``."""
    return LayerNorm(width)


def build_residual_block(width: int,
                         heads: int,
                         mlp_ratio: float = 4.0) -> ResidualAttentionBlock:
    """A batch-first pre-LN ``ResidualAttentionBlock`` with QuickGELU.

    Assumes ``ResidualAttentionBlock(d_model, n_head, mlp_ratio=...,
    act_layer=..., batch_first=True)`` (open_clip >= 2.26); its forward maps
    ``(B, L, width)`` to ``(B, L, width)``.
    """
    return ResidualAttentionBlock(
        width,
        heads,
        mlp_ratio=mlp_ratio,
        act_layer=QuickGELU,
        batch_first=True)


def run_block_batch_first(block: nn.Module, tokens: Tensor) -> Tensor:
    """Run one residual block of open_clip on batch-first tokens.

    Assumes the blocks open_clip builds (in ``Transformer.resblocks`` and
    by :func:`build_residual_block`) are batch-first, so that samples never
    attend to each other.

    Args:
        block (nn.Module): an open_clip ``ResidualAttentionBlock``.
        tokens (Tensor): ``(B, L, C)``.

    Returns:
        Tensor: ``(B, L, C)``.
    """
    return block(tokens)


def transformer_blocks(tower: nn.Module) -> nn.ModuleList:
    """The residual blocks of a ViT or text tower, in order.

    Assumes ``tower.transformer.resblocks`` (an ``nn.ModuleList`` of
    batch-first ``ResidualAttentionBlock``); replacing an entry replaces
    that block in the tower's forward.
    """
    return tower.transformer.resblocks


def share_block_parts(target: nn.Module, block: nn.Module) -> None:
    """Add ``block``'s parts to ``target`` under their own names.

    Assumes a ``ResidualAttentionBlock`` keeps all its state in its child
    modules (``ln_1``, ``attn``, ``ls_1``, ``ln_2``, ``mlp``, ``ls_2``), so
    that ``target`` computes with the same (shared, not copied) weights and
    has the same state dict keys.
    """
    for name, child in block.named_children():
        target.add_module(name, child)


def block_attention_input(block: nn.Module, tokens: Tensor) -> Tensor:
    """The normalised attention input ``ln_1(tokens)``, ``(..., C)``."""
    return block.ln_1(tokens)


def block_attention(block: nn.Module) -> nn.MultiheadAttention:
    """The block's self-attention, a batch-first ``nn.MultiheadAttention``
    (``block.attn``) with packed input projections."""
    return block.attn


def block_self_attention(block: nn.Module,
                         normed: Tensor,
                         attn_mask: Optional[Tensor] = None) -> Tensor:
    """The block's own attention of normalised tokens ``(B, L, C)``.

    Assumes ``ResidualAttentionBlock.attention(q_x, attn_mask=...)``
    returns the self-attention output ``(B, L, C)`` (after ``out_proj``).
    """
    return block.attention(normed, attn_mask=attn_mask)


def residual_block_forward(block: nn.Module,
                           tokens: Tensor,
                           attend: Optional[Callable[[Tensor], Tensor]] = None,
                           branch: Optional[Callable[[Tensor], Tensor]] = None,
                           normed: Optional[Tensor] = None) -> Tensor:
    """A ``ResidualAttentionBlock``'s forward, its parts exposed.

    ``x = tokens + branch(ls_1(attend(ln_1(tokens))))``, then
    ``x + branch(ls_2(mlp(ln_2(x))))``: open_clip's pre-LN residual block
    (its ``forward`` for self-attention).

    Args:
        block (nn.Module): the block whose parts are used.
        tokens (Tensor): ``(N, L, C)``.
        attend (callable, optional): normalised tokens ``(N, L, C)`` ->
            attention output ``(N, L, C)``; the block's own
            self-attention when None.
        branch (callable, optional): applied to each residual branch
            ``(N, L, C)`` (e.g. drop path); the identity when None.
        normed (Tensor, optional): ``ln_1(tokens)`` when already computed.

    Returns:
        Tensor: ``(N, L, C)``.
    """
    if normed is None:
        normed = block.ln_1(tokens)
    attended = (
        attend(normed) if attend is not None else block_self_attention(
            block, normed))
    attended = block.ls_1(attended)
    x = tokens + (branch(attended) if branch is not None else attended)
    mlp = block.ls_2(block.mlp(block.ln_2(x)))
    return x + (branch(mlp) if branch is not None else mlp)


def attention_in_projection(attn: nn.MultiheadAttention
                            ) -> Tuple[Tensor, Tensor, nn.Linear, int]:
    """The projections of a block's attention.

    Assumes an ``nn.MultiheadAttention`` with packed ``in_proj_weight``
    ``(3C, C)`` (rows: query, key, value) and ``in_proj_bias`` ``(3C,)``,
    an ``out_proj`` ``nn.Linear(C, C)`` and ``num_heads``.

    Returns:
        tuple: ``in_proj_weight``, ``in_proj_bias``, ``out_proj``,
        ``num_heads``.
    """
    return attn.in_proj_weight, attn.in_proj_bias, attn.out_proj, \
        attn.num_heads


def block_mlp_activation(block: nn.Module) -> Optional[nn.Module]:
    """The activation of a block's MLP (``block.mlp.gelu``), None if the
    block has none there."""
    return getattr(getattr(block, 'mlp', None), 'gelu', None)


def is_quick_gelu(module: Optional[nn.Module]) -> bool:
    """Whether ``module`` is open_clip's ``QuickGELU`` (``x *
    sigmoid(1.702 x)``, the activation OpenAI trained CLIP with)."""
    return isinstance(module, QuickGELU)


# ---------------------------------------------------------------------------
# The modified ResNet (RN50, ...)
# ---------------------------------------------------------------------------
#: ``ModifiedResNet`` has ``layer1`` .. ``layer4``.
RESNET_NUM_LAYERS = 4
#: ``ModifiedResNet``'s stem: three convolutions with their BatchNorms.
RESNET_STEM_NAMES = ('conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3')
#: The attention pool's positional embedding ``(1 + h*w, C)`` in the tower.
RESNET_POS_EMBED_KEY = 'attnpool.positional_embedding'
#: Children only the CLIP-space outputs use (the attention pool).
RESNET_CLIP_SPACE_NAMES = ('attnpool', )


def build_resnet_tower(layers: Sequence[int], width: int, heads: int,
                       embed_dim: int, image_size: Grid) -> ModifiedResNet:
    """open_clip's ``ModifiedResNet`` for images of ``(H, W)`` pixels.

    Assumes ``ModifiedResNet(layers, output_dim, heads, image_size,
    width)``, whose ``AttentionPool2d`` is built for a square
    ``(H / 32)**2`` grid: for ``H != W`` the tower's ``image_size`` is set
    to ``(H, W)`` and the caller resizes :data:`RESNET_POS_EMBED_KEY` to
    the ``(H / 32, W / 32)`` grid.

    Args:
        layers (Sequence[int]): bottleneck blocks of each of the 4 layers.
        width (int): stem width.
        heads (int): heads of the attention pool.
        embed_dim (int): CLIP embedding size ``D``.
        image_size (tuple[int, int]): ``(H, W)``.

    Returns:
        ModifiedResNet: its state dict has OpenAI's ``visual.*`` names
        without the prefix.
    """
    height, width_px = image_size
    tower = ModifiedResNet(
        layers=list(layers),
        output_dim=embed_dim,
        heads=heads,
        image_size=height,
        width=width)
    if height != width_px:
        tower.image_size = (height, width_px)
    return tower


def resnet_stem(tower: nn.Module, images: Tensor) -> Tensor:
    """The stem (``ModifiedResNet.stem``): ``(B, 3, H, W)`` ->
    ``(B, width, H / 4, W / 4)``."""
    return tower.stem(images)


def resnet_stem_parts(tower: nn.Module) -> List[nn.Module]:
    """The stem's modules (:data:`RESNET_STEM_NAMES`), for freezing."""
    return [getattr(tower, name) for name in RESNET_STEM_NAMES]


def resnet_layer(tower: nn.Module, index: int) -> nn.Module:
    """``layer{index}`` (1 .. 4): ``(B, C, h, w)`` -> ``(B, width * 4 *
    2**(index - 1), h', w')``, stride 1 for ``layer1``, 2 for the others."""
    return getattr(tower, f'layer{index}')


def resnet_attention_pool(tower: nn.Module) -> AttentionPool2d:
    """The attention pool (``tower.attnpool``)."""
    return tower.attnpool


def attention_pool_tokens(pool: AttentionPool2d,
                          x: Tensor,
                          pos_embed: Optional[Tensor] = None) -> Tensor:
    """CLIP's attention pool, returning every token instead of the first.

    The computation of open_clip's ``AttentionPool2d.forward``, which
    already attends with all ``h*w + 1`` queries (mean token first) but
    keeps only the mean token's output; token 0 here equals that output.
    Assumes the pool's ``positional_embedding`` ``(1 + h*w, C)``,
    ``num_heads`` and ``nn.Linear`` projections ``q_proj``, ``k_proj``,
    ``v_proj`` (``C -> C``) and ``c_proj`` (``C -> D``).

    Args:
        pool (AttentionPool2d): the pool whose weights are used.
        x (Tensor): features ``(B, C, h, w)``.
        pos_embed (Tensor, optional): ``(1 + h*w, C)``; the pool's own
            positional embedding when None.

    Returns:
        Tensor: ``(1 + h*w, B, D)``: the pooled (global) token, then one per
        grid cell in row-major order, after the output projection ``c_proj``.
    """
    if pos_embed is None:
        pos_embed = pool.positional_embedding
    x = x.flatten(2).permute(2, 0, 1)  # (B, C, h, w) -> (h*w, B, C)
    x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
    x = x + pos_embed[:, None, :].to(x.dtype)
    x, _ = F.multi_head_attention_forward(
        query=x,
        key=x,
        value=x,
        embed_dim_to_check=x.shape[-1],
        num_heads=pool.num_heads,
        q_proj_weight=pool.q_proj.weight,
        k_proj_weight=pool.k_proj.weight,
        v_proj_weight=pool.v_proj.weight,
        in_proj_weight=None,
        in_proj_bias=torch.cat(
            [pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
        bias_k=None,
        bias_v=None,
        add_zero_attn=False,
        dropout_p=0.,
        out_proj_weight=pool.c_proj.weight,
        out_proj_bias=pool.c_proj.bias,
        use_separate_proj_weight=True,
        training=pool.training,
        need_weights=False)
    return x


# ---------------------------------------------------------------------------
# The vision transformer (ViT-B/16, ...)
# ---------------------------------------------------------------------------
#: The positional embedding ``(1 + h*w, width)`` in the tower.
VIT_POS_EMBED_KEY = 'positional_embedding'
#: Children only the CLIP-space outputs use (final norm and projection).
VIT_CLIP_SPACE_NAMES = ('ln_post', 'proj')


def build_vit_tower(image_size: Grid, patch_size: int, width: int, layers: int,
                    heads: int, embed_dim: int) -> VisionTransformer:
    """open_clip's ``VisionTransformer`` with QuickGELU, as OpenAI trained.

    Assumes ``VisionTransformer(image_size=(H, W), patch_size, width,
    layers, heads, mlp_ratio, output_dim, act_layer, norm_layer)`` builds a
    ``(H/p * W/p + 1, width)`` positional embedding and batch-first blocks.

    Args:
        image_size (tuple[int, int]): ``(H, W)``.
        patch_size (int): patch size ``p``.
        width (int): token width.
        layers (int): residual blocks.
        heads (int): attention heads.
        embed_dim (int): CLIP embedding size ``D``.

    Returns:
        VisionTransformer: its state dict has OpenAI's ``visual.*`` names
        without the prefix.
    """
    return VisionTransformer(
        image_size=tuple(image_size),
        patch_size=patch_size,
        width=width,
        layers=layers,
        heads=heads,
        mlp_ratio=4.0,
        output_dim=embed_dim,
        act_layer=QuickGELU,
        norm_layer=LayerNorm)


def vit_stem_parts(tower: nn.Module) -> List[object]:
    """What runs before the blocks, for freezing: the patch embedding
    ``conv1``, ``class_embedding`` ``(width,)``, ``positional_embedding``
    and ``ln_pre``."""
    return [
        tower.conv1, tower.class_embedding, tower.positional_embedding,
        tower.ln_pre
    ]


def vit_patch_tokens(tower: nn.Module,
                     images: Tensor) -> Tuple[Tensor, int, int]:
    """Embed the patches (``tower.conv1``).

    Args:
        tower (nn.Module): the ``VisionTransformer``.
        images (Tensor): ``(B, 3, H, W)``.

    Returns:
        tuple: the patch tokens ``(B, h*w, width)`` in row-major order and
        the grid ``h = H / p``, ``w = W / p``.
    """
    x = tower.conv1(images)  # (B, width, h, w)
    _, _, height, width = x.shape
    return x.flatten(2).transpose(1, 2), height, width


def vit_input_tokens(tower: nn.Module, patches: Tensor,
                     pos_embed: Tensor) -> Tensor:
    """The blocks' input: the class token prepended, the positional
    embedding added, then ``patch_dropout`` and ``ln_pre``.

    Args:
        tower (nn.Module): the ``VisionTransformer``.
        patches (Tensor): ``(B, h*w, width)`` from :func:`vit_patch_tokens`.
        pos_embed (Tensor): ``(1 + h*w, width)``.

    Returns:
        Tensor: ``(B, 1 + h*w, width)``.
    """
    class_token = tower.class_embedding.to(patches.dtype).expand(
        patches.shape[0], 1, -1)
    x = torch.cat([class_token, patches], dim=1)
    x = x + pos_embed.to(x.dtype)
    x = tower.patch_dropout(x)
    return tower.ln_pre(x)


def vit_final_norm(tower: nn.Module, tokens: Tensor) -> Tensor:
    """``ln_post`` of the last tokens, ``(B, L, width)`` -> same."""
    return tower.ln_post(tokens)


def vit_project(tower: nn.Module, tokens: Tensor) -> Tensor:
    """Into CLIP space: ``tokens @ proj``, ``(..., width)`` ->
    ``(..., D)`` (``proj`` is a ``(width, D)`` parameter)."""
    return tokens @ tower.proj


# ---------------------------------------------------------------------------
# The text tower
# ---------------------------------------------------------------------------
#: The text tower's state dict keys: OpenAI's names, at the top level of a
#: CLIP state dict.
TEXT_STATE_PREFIXES = ('token_embedding.', 'positional_embedding',
                       'transformer.', 'ln_final.', 'text_projection')


def build_text_tower(context_length: int, vocab_size: int, width: int,
                     heads: int, layers: int, mlp_ratio: float,
                     embed_dim: int) -> TextTransformer:
    """open_clip's ``TextTransformer`` with QuickGELU, as OpenAI trained.

    Assumes ``TextTransformer(context_length, vocab_size, width, heads,
    layers, mlp_ratio, output_dim, act_layer, norm_layer)`` whose state
    dict keys start with :data:`TEXT_STATE_PREFIXES`, with a
    ``text_projection`` parameter ``(width, D)``.
    """
    return TextTransformer(
        context_length=context_length,
        vocab_size=vocab_size,
        width=width,
        heads=heads,
        layers=layers,
        mlp_ratio=mlp_ratio,
        output_dim=embed_dim,
        act_layer=QuickGELU,
        norm_layer=LayerNorm)


def text_tower_config(tower: nn.Module) -> Dict[str, int]:
    """The architecture of a text tower: ``width``, ``heads``, ``layers``,
    ``context_length``, ``vocab_size`` and ``embed_dim``."""
    return dict(
        width=tower.width,
        heads=tower.heads,
        layers=tower.transformer.layers,
        context_length=tower.context_length,
        vocab_size=tower.vocab_size,
        embed_dim=text_embed_dim(tower))


def text_embed_dim(tower: nn.Module) -> int:
    """The output size ``D``: ``text_projection`` is ``(width, D)``."""
    return tower.text_projection.shape[1]


def text_cast_dtype(tower: nn.Module) -> torch.dtype:
    """The dtype the tower computes in (``transformer.get_cast_dtype()``)."""
    return tower.transformer.get_cast_dtype()


def text_positions(tower: nn.Module) -> Tensor:
    """The positional embedding ``(context_length, width)``."""
    return tower.positional_embedding


def text_embed(tower: nn.Module, tokens: Tensor) -> Tensor:
    """Token embeddings: ``(N, T)`` ids -> ``(N, T, width)``."""
    return tower.token_embedding(tokens)


def text_final(tower: nn.Module, tokens: Tensor) -> Tensor:
    """``ln_final`` then ``text_projection``: ``(N, width)`` -> ``(N, D)``.
    """
    return tower.ln_final(tokens) @ tower.text_projection


#: The tokenizer's start-of-text id, first in every sequence.
SOT_TOKEN = 49406
#: The end-of-text id, the largest id of CLIP's vocabulary.
EOT_TOKEN = 49407


def tokenize(texts: Sequence[str], context_length: int) -> Tensor:
    """CLIP's BPE tokenizer (``open_clip.tokenize``, vocabulary shipped).

    Assumes each row is ``[SOT] + tokens + [EOT]`` zero-padded (or cut, the
    last id then being ``[EOT]``) to ``context_length``, with
    :data:`SOT_TOKEN` and :data:`EOT_TOKEN` the largest id, so that
    ``argmax`` finds the ``[EOT]``.

    Returns:
        Tensor: ``(N, context_length)`` int64 ids.
    """
    return open_clip.tokenize(list(texts), context_length=context_length)


# ---------------------------------------------------------------------------
# Pretrained weights
# ---------------------------------------------------------------------------
def list_pretrained_tags(arch: str) -> List[str]:
    """open_clip's pretrained tags of architecture ``arch`` (e.g. ``RN50``
    -> ``['openai', 'yfcc15m', ...]``)."""
    return list(_pretrained.list_pretrained_tags_by_model(arch))


def download_pretrained_tag(arch: str,
                            tag: str,
                            cache_dir: Optional[str] = None) -> Optional[str]:
    """Fetch the weights open_clip knows as ``arch``/``tag`` (cached).

    Assumes ``open_clip.pretrained.get_pretrained_cfg(arch, tag)`` (empty
    for an unknown tag) and ``download_pretrained(cfg, cache_dir=...)``.

    Returns:
        str | None: the local file, None when open_clip knows no such tag.
        Download errors propagate.
    """
    cfg = _pretrained.get_pretrained_cfg(arch, tag)
    if not cfg:
        return None
    return _pretrained.download_pretrained(cfg, cache_dir=cache_dir)


def download_url(url: str, cache_dir: Optional[str] = None) -> str:
    """Download ``url`` into open_clip's cache (``download_pretrained_
    from_url``) and return the local file."""
    return _pretrained.download_pretrained_from_url(url, cache_dir=cache_dir)


# ---------------------------------------------------------------------------
# Whole CLIP models (test fixtures)
# ---------------------------------------------------------------------------
def build_clip_model(embed_dim: int,
                     vision: dict,
                     text: dict,
                     quick_gelu: bool = True) -> nn.Module:
    """open_clip's ``CLIP`` (``model.CLIP`` with ``CLIPVisionCfg`` /
    ``CLIPTextCfg`` built from ``vision`` and ``text``), random weights;
    its state dict has OpenAI's key names."""
    return CLIP(
        embed_dim,
        vision_cfg=CLIPVisionCfg(**vision),
        text_cfg=CLIPTextCfg(**text),
        quick_gelu=quick_gelu)


def clip_model_image_size(model: nn.Module) -> Grid:
    """``(H, W)`` the visual tower of a ``CLIP`` model is built for."""
    size = model.visual.image_size
    return (size, size) if isinstance(size, int) else tuple(size)


def clip_model_context_length(model: nn.Module) -> int:
    """The text context length of a ``CLIP`` model."""
    return model.context_length
