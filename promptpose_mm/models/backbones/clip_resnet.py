"""CLIP's modified ResNet (RN50, ...) as an MMPose backbone."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmpose.registry import MODELS
from torch import Tensor

from ..clip.open_clip_api import (RESNET_CLIP_SPACE_NAMES, RESNET_NUM_LAYERS,
                                  RESNET_POS_EMBED_KEY, attention_pool_tokens,
                                  build_resnet_tower, resnet_attention_pool,
                                  resnet_layer, resnet_stem, resnet_stem_parts)
from .base import CLIPVisualBackbone, StagePart

# Re-exported: CLIP's attention pool at every location.
__all__ = ['CLIPResNet', 'attention_pool_tokens']
_NUM_LAYERS = RESNET_NUM_LAYERS


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
        init_cfg (dict, optional): ``dict(type='PretrainedCLIP',
            checkpoint='RN50.pt')`` loads CLIP weights (see
            :class:`CLIPVisualBackbone`).
    """

    pos_embed_key = RESNET_POS_EMBED_KEY
    clip_space_names = RESNET_CLIP_SPACE_NAMES

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
        self.clip = build_resnet_tower(
            layers=layers,
            width=width,
            heads=width * 32 // head_width,
            embed_dim=embed_dim,
            image_size=(in_h, in_w))
        if in_w != in_h:
            # ``AttentionPool2d`` builds square grids only.
            self._fit_pos_embed_to_grid()
        self._finish_build()

    def _stage_parts(self, stage: int) -> List[StagePart]:
        if stage == 0:
            return resnet_stem_parts(self.clip)
        return [resnet_layer(self.clip, stage)]

    def _forward_levels(self, x: Tensor) -> Tuple[Dict[int, Tensor], Tensor]:
        last = _NUM_LAYERS - 1 if self.with_clip_space else max(
            self.out_indices)
        x = resnet_stem(self.clip, x)
        levels = {}
        for index in range(last + 1):
            x = resnet_layer(self.clip, index + 1)(x)
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
        tokens = attention_pool_tokens(
            resnet_attention_pool(self.clip), x, pos_embed)
        dense = tokens[1:].permute(1, 2, 0).reshape(batch, -1, height, width)
        return dense, tokens[0]
