"""CLIP's vision transformer (ViT-B/16, ...) as an MMPose backbone."""
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..clip.open_clip_api import (VIT_CLIP_SPACE_NAMES, VIT_POS_EMBED_KEY,
                                  ResidualAttentionBlock, block_self_attention,
                                  build_vit_tower, residual_block_forward,
                                  run_block_batch_first, share_block_parts,
                                  transformer_blocks, vit_final_norm,
                                  vit_input_tokens, vit_patch_tokens,
                                  vit_project, vit_stem_parts)
from .base import CLIPVisualBackbone, StagePart

# The last tokens (B, 1 + h*w, width) and the grid size h, w.
TokenState = Tuple[Tensor, int, int]
#: How a drop-path mask is drawn: per token position, shared by the batch
#: (CLAMP's), or per sample (the usual stochastic depth).
DROP_PATH_MODES = ('token', 'sample')


def _check_drop_path_mode(mode: str) -> str:
    if mode not in DROP_PATH_MODES:
        raise ValueError(f'drop path mode must be one of {DROP_PATH_MODES}, '
                         f'got {mode!r}')
    return mode


class TokenDropPath(nn.Module):
    """Drop path (stochastic depth) of a residual branch on ``(B, L, C)``.

    In training every entry of the branch is multiplied by a mask that is
    0 with probability ``drop_prob`` and ``1 / (1 - drop_prob)`` otherwise
    (so the expectation is unchanged); in eval mode it is the identity.

    - ``mode='token'`` draws one mask value per token position ``l``, shared
      by every sample of the batch: a ``(1, L, 1)`` mask. This is what the
      published CLAMP code (after DenseCLIP) does, applying timm's
      ``drop_path`` to sequence-first tokens ``(L, B, C)``, whose mask runs
      over the first dimension.
    - ``mode='sample'`` draws one value per sample: a ``(B, 1, 1)`` mask,
      the stochastic depth of timm/mmcv on batch-first tokens.

    Args:
        drop_prob (float): probability of dropping, in ``[0, 1)``.
        mode (str): ``'token'`` or ``'sample'``. Defaults to ``'token'``.
    """

    def __init__(self, drop_prob: float = 0.0, mode: str = 'token'):
        super().__init__()
        if not 0 <= drop_prob < 1:
            raise ValueError(f'drop_prob must lie in [0, 1), got {drop_prob}')
        self.drop_prob = float(drop_prob)
        self.mode = _check_drop_path_mode(mode)

    def forward(self, x: Tensor) -> Tensor:
        """Branch output ``(B, L, C)`` -> masked ``(B, L, C)``."""
        if not self.training or self.drop_prob == 0:
            return x
        keep = 1.0 - self.drop_prob
        if self.mode == 'token':
            shape = (1, x.shape[1]) + (1, ) * (x.dim() - 2)
        else:
            shape = (x.shape[0], ) + (1, ) * (x.dim() - 1)
        mask = x.new_empty(shape).bernoulli_(keep).div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}, mode={self.mode!r}'


class DropPathBlock(ResidualAttentionBlock):
    """open_clip's ``ResidualAttentionBlock`` with stochastic depth.

    Takes over the parts of ``block`` under their own names (so the state
    dict keys are unchanged) and, in training, drops each of its two
    residual branches with probability ``drop_prob`` through
    :class:`TokenDropPath` (a fresh mask for each branch); in eval mode it
    computes exactly what ``block`` does.

    Args:
        block (ResidualAttentionBlock): the block to wrap (its modules are
            shared, not copied).
        drop_prob (float): probability of dropping a residual branch.
        mode (str): ``'token'``: one mask over token positions shared by
            the batch (CLAMP's); ``'sample'``: one per sample.
            Defaults to ``'token'``.
    """

    def __init__(self,
                 block: ResidualAttentionBlock,
                 drop_prob: float,
                 mode: str = 'token'):
        # The parts come from ``block``; building new ones would be wasted.
        nn.Module.__init__(self)
        share_block_parts(self, block)
        self.drop_path = TokenDropPath(drop_prob, mode)

    def forward(self,
                q_x: Tensor,
                k_x: Optional[Tensor] = None,
                v_x: Optional[Tensor] = None,
                attn_mask: Optional[Tensor] = None) -> Tensor:
        """Tokens ``(B, L, C)`` -> ``(B, L, C)`` (self-attention only)."""
        if k_x is not None or v_x is not None:
            raise NotImplementedError(
                'DropPathBlock wraps self-attention blocks only')
        return residual_block_forward(
            self,
            q_x,
            attend=partial(block_self_attention, self, attn_mask=attn_mask),
            branch=self.drop_path)


@MODELS.register_module()
class CLIPVisionTransformer(CLIPVisualBackbone):
    """CLIP's vision transformer with a dense CLIP-space output.

    Wraps open_clip's ``VisionTransformer`` (QuickGELU, as OpenAI trained
    it) as ``self.clip``; its state dict is the ``visual.*`` part of an
    OpenAI ViT-B/16 (...) checkpoint. The forward pass runs its parts by
    hand: patch embedding, the class embedding (prepended once), the
    positional embedding (resized to the token grid), ``ln_pre`` and the
    residual blocks. Levels are the patch tokens after block ``i`` as
    ``(B, width, H / patch, W / patch)`` maps. The CLIP-space outputs apply
    ``ln_post`` and the projection ``proj`` to every token: patch tokens give
    the dense map, the class token the global embedding (equal to CLIP's
    image embedding at the pretraining resolution).

    ViT-B/16 at 256x256 returns four ``(B, 768, 16, 16)`` levels, then dense
    ``(B, 512, 16, 16)`` and global ``(B, 512)``.

    Args:
        patch_size (int): patch size (16 for ViT-B/16).
        width (int): token width (768 for ViT-B).
        layers (int): residual blocks (12 for ViT-B).
        head_width (int): channels per head; ``width // head_width`` heads.
        embed_dim (int): CLIP embedding size D (512 for ViT-B/16).
        input_size (tuple[int, int]): ``(W, H)``, multiples of
            ``patch_size``.
        out_indices (Sequence[int]): blocks whose output tokens are
            returned, from ``[-layers, layers)``.
        with_clip_space (bool): also return ``dense`` and ``global``; when
            False ``ln_post`` and ``proj`` are not built.
        drop_path_rate (float): stochastic depth of the last block; block
            ``i`` drops its residual branches with probability
            ``torch.linspace(0, drop_path_rate, layers)[i]`` (CLAMP trains
            ViT-B/16 with 0.4).
        drop_path_mode (str): ``'token'``: one drop mask over the token
            positions, shared by the whole batch, as the published CLAMP
            code does; ``'sample'``: one per sample (the usual stochastic
            depth). See :class:`TokenDropPath`. Defaults to ``'token'``.
        frozen_stages (int): -1: none; 0: patch, class and positional
            embeddings and ``ln_pre``; i: those and blocks ``0 .. i-1``;
            ``layers`` also freezes ``ln_post`` and ``proj``.
        norm_eval (bool): keep BatchNorms in eval mode (there are none in a
            ViT; accepted for a uniform interface).
        init_cfg (dict, optional): ``dict(type='PretrainedCLIP',
            checkpoint='ViT-B-16.pt')`` loads CLIP weights (see
            :class:`CLIPVisualBackbone`).
    """

    pos_embed_key = VIT_POS_EMBED_KEY
    clip_space_names = VIT_CLIP_SPACE_NAMES

    def __init__(self,
                 patch_size: int = 16,
                 width: int = 768,
                 layers: int = 12,
                 head_width: int = 64,
                 embed_dim: int = 512,
                 input_size: Sequence[int] = (256, 256),
                 out_indices: Sequence[int] = (3, 5, 7, 11),
                 with_clip_space: bool = True,
                 drop_path_rate: float = 0.0,
                 drop_path_mode: str = 'token',
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(
            input_size=input_size,
            out_indices=out_indices,
            num_levels=layers,
            stride=patch_size,
            num_stages=layers,
            with_clip_space=with_clip_space,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            init_cfg=init_cfg)
        if width % head_width:
            raise ValueError(f'CLIPVisionTransformer: head_width '
                             f'{head_width} must divide width {width}')
        if not 0 <= drop_path_rate < 1:
            raise ValueError('CLIPVisionTransformer: drop_path_rate must lie '
                             f'in [0, 1), got {drop_path_rate}')
        _check_drop_path_mode(drop_path_mode)
        in_w, in_h = self.input_size
        self.embed_dim = embed_dim
        self.out_channels: Tuple[int, ...] = (width, ) * len(self.out_indices)
        self.clip = build_vit_tower(
            image_size=(in_h, in_w),
            patch_size=patch_size,
            width=width,
            layers=layers,
            heads=width // head_width,
            embed_dim=embed_dim)
        if drop_path_rate > 0:
            blocks = transformer_blocks(self.clip)
            rates = torch.linspace(0, drop_path_rate, layers).tolist()
            for index, rate in enumerate(rates):
                blocks[index] = DropPathBlock(blocks[index], rate,
                                              drop_path_mode)
        self._finish_build()

    def _stage_parts(self, stage: int) -> List[StagePart]:
        if stage == 0:
            return vit_stem_parts(self.clip)
        return [transformer_blocks(self.clip)[stage - 1]]

    def _forward_levels(self,
                        x: Tensor) -> Tuple[Dict[int, Tensor], TokenState]:
        batch = x.shape[0]
        x, height, width = vit_patch_tokens(self.clip, x)  # (B, h*w, width)
        x = vit_input_tokens(self.clip, x, self.pos_embed_for(
            (height, width)))  # (B, 1 + h*w, width)
        blocks = transformer_blocks(self.clip)
        last = len(blocks) - 1 if self.with_clip_space else max(
            self.out_indices)
        levels = {}
        for index in range(last + 1):
            x = run_block_batch_first(blocks[index], x)
            if index in self.out_indices:
                levels[index] = x[:, 1:].transpose(1, 2).reshape(
                    batch, -1, height, width)
        return levels, (x, height, width)

    def _forward_clip_space(self, state: TokenState) -> Tuple[Tensor, Tensor]:
        """Project the last tokens ``(B, 1 + h*w, width)`` of the ``h x w``
        grid into CLIP space.

        Returns:
            tuple[Tensor, Tensor]: dense ``(B, D, h, w)`` and global
            ``(B, D)``.
        """
        tokens, height, width = state
        tokens = vit_final_norm(self.clip, tokens)
        global_embed = vit_project(self.clip, tokens[:, 0])
        dense = vit_project(self.clip, tokens[:, 1:])  # (B, h*w, D)
        dense = dense.transpose(1, 2).reshape(dense.shape[0], -1, height,
                                              width)
        return dense, global_embed
