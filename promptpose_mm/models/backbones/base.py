"""What the CLIP visual backbones share: sizes, outputs, freezing, weights.

Each backbone wraps one of open_clip's visual towers as ``self.clip``, whose
state dict uses OpenAI's key names without the ``visual.`` prefix, so CLIP
weights load with a plain ``self.clip.load_state_dict``. Subclasses build
that module and provide the stage parts, the level features and the
projection into CLIP space; this class assembles the outputs and handles
``frozen_stages``, ``norm_eval`` and loading.

Positional embeddings follow the input size, resized bilinearly (as the
published CLAMP code does). The backbone records the token grid its
embedding is built for in the persistent buffer ``pos_embed_grid`` (saved
in checkpoints), and an embedding of another grid is resized when it is
loaded: from CLIP weights (``init_cfg``) and from
MMPose/MMEngine checkpoints (``load_from``, ``load_checkpoint``,
``load_state_dict``). So a model trained on 256x192 COCO crops (ResNet
attention pool 8x6, ViT 16x12) fine-tunes at 256x256 (8x8, 16x16).
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MMLogger
from mmpose.models.backbones.base_backbone import BaseBackbone
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..clip import (CLIPInitMixin, CLIPWeightsError, infer_square_grid,
                    load_clip_state_dict, resize_pos_embed, sub_state_dict)
from ..clip.pos_embed import Grid

# Key prefixes of a CLIP state dict's visual tower.
VISUAL_PREFIX = 'visual.'
# Name of the buffer recording the grid ``(h, w)`` of the embedding.
GRID_BUFFER = 'pos_embed_grid'
# How many keys an error message lists before summarising.
_MAX_LISTED_KEYS = 10
StagePart = Union[nn.Module, nn.Parameter]


def _list_keys(keys: Sequence[str]) -> str:
    """``keys`` for an error message, the first few and a count."""
    keys = sorted(keys)
    if len(keys) <= _MAX_LISTED_KEYS:
        return str(keys)
    return (f'{keys[:_MAX_LISTED_KEYS]} and {len(keys) - _MAX_LISTED_KEYS} '
            'more')


class CLIPVisualBackbone(CLIPInitMixin, BaseBackbone):
    """Base class of the CLIP visual backbones.

    ``forward(img)`` returns the feature maps at ``out_indices`` followed,
    when ``with_clip_space`` is True, by the dense CLIP-space map
    ``(B, D, h, w)`` and the global CLIP image embedding ``(B, D)``; ``h, w``
    is the input size over :attr:`stride`.

    Args:
        input_size (tuple[int, int]): ``(W, H)`` the backbone is built for
            (MMPose order). Positional embeddings are stored for this grid
            and resized to it when CLIP weights are loaded; other input
            sizes work too (resized on the fly).
        out_indices (Sequence[int]): the levels to return, in
            ``[-num_levels, num_levels)``.
        num_levels (int): how many levels the subclass has.
        stride (int): the stride of the last level and the dense map.
        num_stages (int): how many stages ``frozen_stages`` can freeze
            after the stem (stage 0).
        with_clip_space (bool): also return the dense and global CLIP-space
            outputs; when False the projection head is not built and its
            checkpoint weights are skipped.
        frozen_stages (int): freeze the stem (0) and the first
            ``frozen_stages`` stages: no gradients and eval mode. Freezing
            all ``num_stages`` stages freezes the CLIP-space head as well.
            -1 freezes nothing.
        norm_eval (bool): keep every BatchNorm in eval mode while training.
        init_cfg (dict | list[dict], optional): ``dict(type=
            'PretrainedCLIP', checkpoint=SRC)`` loads the visual tower of
            the CLIP weights at ``SRC`` (an OpenAI archive, a state dict,
            ``open_clip://ARCH/TAG`` or a URL; see
            :mod:`promptpose_mm.models.clip.init_cfg`), after the other
            entries. ``type='Pretrained'`` is MMEngine's, e.g. with
            ``prefix='backbone.'`` for an MMPose checkpoint.
    """

    #: name in ``self.clip`` of the positional embedding ``(1 + h*w, C)``
    pos_embed_key: str = ''
    #: children of ``self.clip`` that only the CLIP-space outputs use
    clip_space_names: Tuple[str, ...] = ()

    def __init__(self,
                 input_size: Sequence[int],
                 out_indices: Sequence[int],
                 num_levels: int,
                 stride: int,
                 num_stages: int,
                 with_clip_space: bool = True,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        if len(input_size) != 2:
            raise ValueError(f'{name}: input_size must be (W, H), got '
                             f'{input_size}')
        in_w, in_h = (int(size) for size in input_size)
        if in_w <= 0 or in_h <= 0 or in_w % stride or in_h % stride:
            raise ValueError(
                f'{name}: input_size (W, H) = {tuple(input_size)} must be '
                f'positive multiples of the stride {stride}; crop to e.g. '
                f'({stride * max(1, round(in_w / stride))}, '
                f'{stride * max(1, round(in_h / stride))})')
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        if not out_indices:
            raise ValueError(f'{name}: out_indices must not be empty')
        for index in out_indices:
            if not -num_levels <= index < num_levels:
                raise ValueError(
                    f'{name}: out_indices {tuple(out_indices)} must lie in '
                    f'[{-num_levels}, {num_levels}) for {num_levels} levels')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(
                f'{name}: frozen_stages must lie in [-1, {num_stages}], got '
                f'{frozen_stages}')
        self.input_size: Tuple[int, int] = (in_w, in_h)
        self.out_indices: Tuple[int, ...] = tuple(index % num_levels
                                                  for index in out_indices)
        self.num_levels = num_levels
        self.stride = stride
        self.num_stages = num_stages
        self.with_clip_space = with_clip_space
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        # The grid ``(h, w)`` the positional embedding is stored for; saved
        # in checkpoints so that a non-square embedding can be resized when
        # it is loaded into a backbone built for another input size.
        self.register_buffer(GRID_BUFFER,
                             torch.tensor(self.grid, dtype=torch.long))
        self.clip: nn.Module  # built by the subclass

    # ------------------------------------------------------------------
    # Subclass interface
    # ------------------------------------------------------------------
    def _stage_parts(self, stage: int) -> List[StagePart]:
        """Modules/parameters of ``stage`` (0: the stem) for freezing."""
        raise NotImplementedError

    def _forward_levels(self, x: Tensor) -> Tuple[Dict[int, Tensor], Any]:
        """Run the tower.

        Args:
            x (Tensor): images ``(B, 3, H, W)``.

        Returns:
            tuple: ``{level: (B, C_level, H_l, W_l)}`` for at least the
            levels in ``out_indices``, and what :meth:`_forward_clip_space`
            needs (only used when ``with_clip_space``).
        """
        raise NotImplementedError

    def _forward_clip_space(self, state: Any) -> Tuple[Tensor, Tensor]:
        """The dense ``(B, D, h, w)`` and global ``(B, D)`` CLIP outputs."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    # Shared helpers
    # ------------------------------------------------------------------
    @property
    def grid(self) -> Grid:
        """``(h, w)`` of the last level for :attr:`input_size`."""
        in_w, in_h = self.input_size
        return in_h // self.stride, in_w // self.stride

    def _finish_build(self) -> None:
        """Called by subclasses once ``self.clip`` is built: remove the
        CLIP-space head if it is unused and freeze ``frozen_stages``."""
        if not self.with_clip_space:
            for child in self.clip_space_names:
                setattr(self.clip, child, None)
        self._freeze_stages()

    def _is_dropped_key(self, key: str) -> bool:
        """Whether checkpoint ``key`` belongs to a deliberately unused part.
        """
        if self.with_clip_space:
            return False
        return any(key == name or key.startswith(name + '.')
                   for name in self.clip_space_names)

    def pos_embed_for(self, grid: Grid) -> Tensor:
        """The positional embedding ``(1 + h*w, C)`` for token grid ``grid``
        (resized bilinearly from :attr:`grid` when they differ, as CLAMP
        does at run time)."""
        pos_embed = self.clip.get_parameter(self.pos_embed_key)
        return resize_pos_embed(pos_embed, self.grid, grid)

    # ------------------------------------------------------------------
    # Forward
    # ------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract features.

        Args:
            x (Tensor): images ``(B, 3, H, W)``; ``H`` and ``W`` multiples of
                :attr:`stride`.

        Returns:
            tuple[Tensor]: the levels at ``out_indices`` (each
            ``(B, C_i, H / s_i, W / s_i)``), then, if ``with_clip_space``,
            ``dense`` ``(B, D, H / stride, W / stride)`` and ``global``
            ``(B, D)``.
        """
        if x.dim() != 4 or any(size % self.stride for size in x.shape[-2:]):
            raise ValueError(
                f'{type(self).__name__} expects images (B, 3, H, W) with H '
                f'and W multiples of {self.stride}, got {tuple(x.shape)}')
        levels, state = self._forward_levels(x)
        outs = tuple(levels[index] for index in self.out_indices)
        if self.with_clip_space:
            outs += tuple(self._forward_clip_space(state))
        return outs

    # ------------------------------------------------------------------
    # Freezing
    # ------------------------------------------------------------------
    def _frozen_parts(self) -> List[StagePart]:
        parts: List[StagePart] = []
        for stage in range(self.frozen_stages + 1):
            parts += self._stage_parts(stage)
        if self.frozen_stages == self.num_stages and self.with_clip_space:
            parts += [
                getattr(self.clip, name) for name in self.clip_space_names
            ]
        return parts

    def _freeze_stages(self) -> None:
        """Stop gradients of the frozen stages and put them in eval mode."""
        for part in self._frozen_parts():
            if isinstance(part, nn.Parameter):
                part.requires_grad = False
            else:
                part.eval()
                for param in part.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True) -> 'CLIPVisualBackbone':
        """Set train/eval mode, keeping frozen stages (and with
        ``norm_eval`` every BatchNorm) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    # ------------------------------------------------------------------
    # Weights
    # ------------------------------------------------------------------
    def _has_pos_embed(self) -> bool:
        """Whether ``self.clip`` holds its positional embedding (the
        ResNet's attention pool is dropped without the CLIP space)."""
        try:
            self.clip.get_parameter(self.pos_embed_key)
        except AttributeError:
            return False
        return True

    def _pos_embed_to_grid(self,
                           pos_embed: Tensor,
                           key: str,
                           source: str,
                           src_grid: Optional[Grid] = None) -> Tensor:
        """A loaded positional embedding ``(1 + h*w, C)`` resized to
        :attr:`grid`.

        Args:
            pos_embed (Tensor): the embedding as loaded.
            key (str): its name in the loaded state dict (for messages).
            source (str): where it comes from (for messages).
            src_grid (tuple[int, int], optional): its grid ``(h, w)`` as
                recorded by the checkpoint. Used when it fits the length;
                otherwise an embedding of this grid's length is taken as it
                is and any other one must be square.

        Returns:
            Tensor: ``(1 + H*W, C)`` for ``(H, W) = self.grid``, the input
            itself when no resize is needed; a resize is logged.

        Raises:
            CLIPWeightsError: the source grid cannot be known.
        """
        num_positions = pos_embed.shape[0] - 1
        grid_h, grid_w = self.grid
        if src_grid is None or src_grid[0] * src_grid[1] != num_positions:
            if num_positions == grid_h * grid_w:
                return pos_embed
            try:
                src_grid = infer_square_grid(num_positions)
            except ValueError as error:
                raise CLIPWeightsError(
                    f'{source}: cannot adapt {key} of shape '
                    f'{tuple(pos_embed.shape)} to the {grid_h}x{grid_w} grid '
                    f'of {type(self).__name__} (input_size (W, H) = '
                    f'{self.input_size}): {num_positions} positions are not '
                    'a square grid and the checkpoint records no '
                    f'{GRID_BUFFER} (h, w) for them (checkpoints saved by '
                    'older versions lack it). Build the model with the '
                    'input_size it was trained at, or resize the embedding '
                    'with promptpose_mm.models.clip.resize_pos_embed(embed, '
                    '(h, w), new_grid) before loading') from error
        if tuple(src_grid) == (grid_h, grid_w):
            return pos_embed
        MMLogger.get_current_instance().info(
            f'{type(self).__name__}: resized {key} from a {src_grid[0]}x'
            f'{src_grid[1]} grid to {grid_h}x{grid_w} for input_size '
            f'(W, H) = {self.input_size}')
        return resize_pos_embed(pos_embed, src_grid, self.grid)

    def _adapt_state_dict(self, state: Dict[str, Tensor],
                          source: str) -> Dict[str, Tensor]:
        """Resize the CLIP checkpoint's positional embedding to
        :attr:`grid` (CLIP's grids are square)."""
        pos_embed = state.get(self.pos_embed_key)
        if pos_embed is not None:
            state[self.pos_embed_key] = self._pos_embed_to_grid(
                pos_embed, VISUAL_PREFIX + self.pos_embed_key, source)
        return state

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: List[str],
                              unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Fit a checkpoint's positional embedding to :attr:`grid`.

        Runs before the children load (in ``torch.nn.Module.
        load_state_dict`` and MMEngine's ``load_state_dict``, hence
        ``load_from`` and ``load_checkpoint``): the incoming
        ``clip.<pos_embed_key>`` is resized from the grid recorded in the
        checkpoint's ``pos_embed_grid`` (or, without that buffer, a square
        grid inferred from its length), and the buffer keeps this
        backbone's grid. Checkpoints without the buffer load without a
        missing-key warning.
        """
        grid_key = prefix + GRID_BUFFER
        recorded = state_dict.get(grid_key)
        state_dict[grid_key] = getattr(self, GRID_BUFFER).detach().clone()
        embed_key = prefix + 'clip.' + self.pos_embed_key
        pos_embed = state_dict.get(embed_key)
        if isinstance(pos_embed, Tensor) and self._has_pos_embed():
            src_grid = None
            if isinstance(recorded, Tensor) and recorded.numel() == 2:
                src_grid = tuple(int(size) for size in recorded.tolist())
            state_dict[embed_key] = self._pos_embed_to_grid(
                pos_embed, embed_key, 'checkpoint', src_grid)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def load_clip_weights(self, source: str) -> None:
        """Load the visual tower of a CLIP checkpoint into ``self.clip``.

        Args:
            source (str): an OpenAI CLIP archive, a state dict with OpenAI's
                key names, ``open_clip://ARCH/TAG`` or a URL.

        Raises:
            CLIPWeightsError: the source is missing, not CLIP, or its visual
                tower does not fit this backbone's architecture.
        """
        name = type(self).__name__
        logger = MMLogger.get_current_instance()
        try:
            full = load_clip_state_dict(source)
        except CLIPWeightsError as error:
            if not osp.isfile(osp.expanduser(source)):
                raise
            raise CLIPWeightsError(
                f'{error}. (An MMPose checkpoint of this backbone loads with '
                "init_cfg=dict(type='Pretrained', checkpoint=..., "
                "prefix='backbone.').)") from error
        state = sub_state_dict(full, VISUAL_PREFIX)
        dropped = sorted(key for key in state if self._is_dropped_key(key))
        if dropped:
            logger.info(
                f'{name}: with_clip_space=False, so the checkpoint weights '
                f'of {", ".join(self.clip_space_names)} ({len(dropped)} '
                'tensors) are deliberately not used')
            for key in dropped:
                del state[key]
        state = self._adapt_state_dict(state, source)
        own = self.clip.state_dict()
        missing = [key for key in own if key not in state]
        unexpected = [key for key in state if key not in own]
        mismatched = [
            f'{key}: checkpoint {tuple(value.shape)} vs model '
            f'{tuple(own[key].shape)}' for key, value in state.items()
            if key in own and value.shape != own[key].shape
        ]
        if missing or unexpected or mismatched:
            raise CLIPWeightsError(
                f'{source}: its CLIP visual tower does not fit {name} '
                f'(missing keys: {_list_keys(missing)}; unexpected keys: '
                f'{_list_keys(unexpected)}; shape mismatches: '
                f'{mismatched[:_MAX_LISTED_KEYS]}). Check that the backbone '
                'type and its architecture arguments (layers, width, '
                'head_width, embed_dim, patch_size) match the checkpoint')
        self.clip.load_state_dict(state, strict=True)
        logger.info(f'{name}: loaded {len(state)} CLIP visual tensors from '
                    f'{source}')

    @torch.no_grad()
    def _fit_pos_embed_to_grid(self) -> None:
        """Make ``self.clip``'s positional embedding match :attr:`grid`
        (for towers that can only build square grids)."""
        owner_name, _, param_name = self.pos_embed_key.rpartition('.')
        owner = self.clip.get_submodule(owner_name)
        pos_embed = getattr(owner, param_name)
        if pos_embed.shape[0] != 1 + self.grid[0] * self.grid[1]:
            setattr(owner, param_name,
                    nn.Parameter(resize_pos_embed(pos_embed, None, self.grid)))
