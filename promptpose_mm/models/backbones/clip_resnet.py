"""CLIP's modified ResNet (RN50, ...) as an MMPose backbone."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from open_clip.modified_resnet import AttentionPool2d, ModifiedResNet
from torch import Tensor

from .base import CLIPVisualBackbone, StagePart

# ``ModifiedResNet``'s stem: three convolutions with their BatchNorms.
_STEM_NAMES = ('conv1', 'bn1', 'conv2', 'bn2', 'conv3', 'bn3')
_NUM_LAYERS = 4


def attention_pool_tokens(pool: AttentionPool2d,
                          x: Tensor,
                          pos_embed: Optional[Tensor] = None) -> Tensor:
    """CLIP's attention pool, returning every token instead of the first.

    The computation of open_clip's ``AttentionPool2d.forward``, which
    already attends with all ``h*w + 1`` queries (mean token first) but
    keeps only the mean token's output; token 0 here equals that output.

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


@MODELS.register_module()
class CLIPResNet(CLIPVisualBackbone):
    """CLIP's modified ResNet with a dense CLIP-space output.

    Wraps open_clip's ``ModifiedResNet`` as ``self.clip`` (its state dict is
    the ``visual.*`` part of an OpenAI RN50/RN101/... checkpoint). Levels
    are the outputs of ``layer1`` .. ``layer4``: ``width * 4 * 2**i``
    channels at strides 4, 8, 16, 32. The dense CLIP-space map is CLIP's
    attention pool applied at every location (all tokens as queries, its
    positional embedding resized to the grid) followed by its output
    projection; its mean token gives the global embedding, which equals
    CLIP's image embedding at the pretraining resolution.

    RN50 at 256x256 returns ``(B, 256, 64, 64)``, ``(B, 512, 32, 32)``,
    ``(B, 1024, 16, 16)``, ``(B, 2048, 8, 8)``, then dense
    ``(B, 1024, 8, 8)`` and global ``(B, 1024)``.

    Args:
        layers (Sequence[int]): bottleneck blocks per layer (RN50:
            ``(3, 4, 6, 3)``, RN101: ``(3, 4, 23, 3)``).
        width (int): stem width (64 for RN50).
        head_width (int): channels per head of the attention pool, which
            has ``width * 32 // head_width`` heads.
        embed_dim (int): CLIP embedding size D (1024 for RN50).
        input_size (tuple[int, int]): ``(W, H)``, multiples of 32.
        out_indices (Sequence[int]): levels to return, from 0..3.
        with_clip_space (bool): also return ``dense`` and ``global``; when
            False the attention pool is not built.
        frozen_stages (int): -1: none; 0: the stem; i: the stem and
            ``layer1`` .. ``layer{i}``; 4 also freezes the attention pool.
        norm_eval (bool): keep BatchNorms in eval mode while training.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint='RN50.pt')`` loads CLIP weights (see
            :class:`CLIPVisualBackbone`).
    """

    pos_embed_key = 'attnpool.positional_embedding'
    clip_space_names = ('attnpool', )

    def __init__(self,
                 layers: Sequence[int] = (3, 4, 6, 3),
                 width: int = 64,
                 head_width: int = 64,
                 embed_dim: int = 1024,
                 input_size: Sequence[int] = (256, 256),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 with_clip_space: bool = True,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(
            input_size=input_size,
            out_indices=out_indices,
            num_levels=_NUM_LAYERS,
            stride=32,
            num_stages=_NUM_LAYERS,
            with_clip_space=with_clip_space,
            frozen_stages=frozen_stages,
            norm_eval=norm_eval,
            init_cfg=init_cfg)
        if len(layers) != _NUM_LAYERS:
            raise ValueError(f'CLIPResNet: layers must give {_NUM_LAYERS} '
                             f'block counts, got {tuple(layers)}')
        if (width * 32) % head_width:
            raise ValueError(
                f'CLIPResNet: head_width {head_width} must divide the '
                f'attention-pool width width * 32 = {width * 32}')
        in_w, in_h = self.input_size
        self.embed_dim = embed_dim
        self.out_channels: Tuple[int,
                                 ...] = tuple(width * 4 * 2**index
                                              for index in self.out_indices)
        self.clip = ModifiedResNet(
            layers=list(layers),
            output_dim=embed_dim,
            heads=width * 32 // head_width,
            image_size=in_h,
            width=width)
        if in_w != in_h:
            # ``AttentionPool2d`` builds square grids only.
            self.clip.image_size = (in_h, in_w)
            self._fit_pos_embed_to_grid()
        self._finish_build()

    def _stage_parts(self, stage: int) -> List[StagePart]:
        if stage == 0:
            return [getattr(self.clip, name) for name in _STEM_NAMES]
        return [getattr(self.clip, f'layer{stage}')]

    def _forward_levels(self, x: Tensor) -> Tuple[Dict[int, Tensor], Tensor]:
        last = _NUM_LAYERS - 1 if self.with_clip_space else max(
            self.out_indices)
        x = self.clip.stem(x)
        levels = {}
        for index in range(last + 1):
            x = getattr(self.clip, f'layer{index + 1}')(x)
            levels[index] = x
        return levels, x

    def _forward_clip_space(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Project ``layer4``'s output ``(B, C, h, w)`` into CLIP space.

        Returns:
            tuple[Tensor, Tensor]: dense ``(B, D, h, w)`` and global
            ``(B, D)``.
        """
        batch, _, height, width = x.shape
        pos_embed = self.pos_embed_for((height, width))
        tokens = attention_pool_tokens(self.clip.attnpool, x, pos_embed)
        dense = tokens[1:].permute(1, 2, 0).reshape(batch, -1, height, width)
        return dense, tokens[0]
