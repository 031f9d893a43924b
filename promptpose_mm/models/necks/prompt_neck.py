"""The PromptPose neck: keypoint text prompts and the text-pixel score map."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn

from promptpose_mm.models.clip import CLIPInitMixin, load_clip_state_dict
from promptpose_mm.models.structures import PromptPoseFeatures
from promptpose_mm.models.utils import PromptCache
from promptpose_mm.utils.keypoint_names import resolve_keypoint_names
from promptpose_mm.utils.precision import full_precision
from .context_decoder import ContextDecoder
from .prompt_encoder import PromptEncoder
from .text_encoder import PromptTextEncoder


@MODELS.register_module()
class PromptPoseNeck(CLIPInitMixin, BaseModule):
    """Keypoint prompts from CLIP's text encoder, compared with every pixel.

    Each keypoint's prompt (learnable context + its name) is encoded by the
    frozen CLIP text encoder (:class:`PromptTextEncoder`), refined by the
    prompt encoder (keypoints attend to each other) and by the context
    decoder (prompts attend to the image's global and dense CLIP tokens,
    added as ``text + gamma * refinement``), then compared by cosine
    similarity with every location of the dense CLIP-space map. The
    prompts before the context decoder do not depend on the image: in eval
    mode they are computed once and cached (see :meth:`prompts`), so the
    frozen text encoder costs nothing at inference.

    The keypoint names come from ``keypoint_names`` (used verbatim) or, by
    default, from the dataset's ``metainfo`` (humanized: ``L_F_Paw`` ->
    ``left front paw``); see :func:`resolve_keypoint_names`.

    Args:
        embed_dim (int): CLIP embedding size ``D`` (1024 for RN50, 512 for
            ViT-B/16); must match the backbone's dense map.
        text_encoder (dict): :class:`PromptTextEncoder` architecture
            (``width``, ``heads``, ``layers``, ``context_length``,
            ``vocab_size``, optionally ``name_length``).
        num_context (int): learnable context vectors per prompt.
        keypoint_names (Sequence[str], optional): explicit prompt names.
        metainfo (dict, optional): the dataset metainfo, e.g.
            ``dict(from_file='configs/_base_/datasets/ap10k.py')``.
        num_keypoints (int, optional): the expected ``K``, checked.
        prompt_encoder (dict, optional): :class:`PromptEncoder` arguments
            (``num_heads``, ``mlp_ratio``); None disables it.
        context_decoder (dict, optional): :class:`ContextDecoder` arguments
            (``width``, ``layers``, ``num_heads``, ``dropout``); None
            disables it.
        gamma_init (float): initial value of the per-channel scale of the
            context decoder's refinement.
        init_cfg (dict | list[dict], optional): ``dict(type=
            'PretrainedCLIP', checkpoint=SRC)`` loads the text encoder from
            the CLIP weights at ``SRC`` (a path, URL or
            ``open_clip://ARCH/TAG``, see :func:`load_clip_state_dict` and
            :mod:`promptpose_mm.models.clip.init_cfg`), after the other
            entries; other types (``Pretrained`` with ``prefix='neck.'``
            for an MMPose checkpoint, ...) go to mmengine.
    """

    def __init__(self,
                 embed_dim: int = 1024,
                 text_encoder: dict = dict(
                     width=512,
                     heads=8,
                     layers=12,
                     context_length=77,
                     vocab_size=49408),
                 num_context: int = 8,
                 keypoint_names: Optional[Sequence[str]] = None,
                 metainfo: Optional[dict] = None,
                 num_keypoints: Optional[int] = None,
                 prompt_encoder: Optional[dict] = dict(num_heads=8),
                 context_decoder: Optional[dict] = dict(
                     width=256, layers=3, num_heads=4, dropout=0.1),
                 gamma_init: float = 1e-3,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        self.embed_dim = embed_dim
        self.keypoint_names = resolve_keypoint_names(
            keypoint_names, metainfo, num_keypoints, owner='PromptPoseNeck')
        self.num_keypoints = len(self.keypoint_names)
        self.text_encoder = PromptTextEncoder(
            self.keypoint_names,
            embed_dim=embed_dim,
            num_context=num_context,
            **text_encoder)
        self.prompt_encoder = None
        if prompt_encoder is not None:
            self.prompt_encoder = PromptEncoder(embed_dim, **prompt_encoder)
        # The prompts before the image-dependent context decoder, computed
        # once in eval mode (inference and flip test): the one prompt cache.
        self._prompt_cache = PromptCache([
            module for module in (self.text_encoder, self.prompt_encoder)
            if module is not None
        ])
        if context_decoder is not None:
            self.context_decoder = ContextDecoder(embed_dim, **context_decoder)
            self.gamma = nn.Parameter(torch.full((embed_dim, ), gamma_init))
        else:
            self.context_decoder = None
            self.gamma = None

    def train(self, mode: bool = True) -> 'PromptPoseNeck':
        """Set the mode; any call but ``eval()`` in eval mode drops the
        cached prompts (training changes the weights they come from)."""
        if mode or self.training:
            self._prompt_cache.clear()
        return super().train(mode)

    def clear_prompt_cache(self) -> None:
        """Drop the cached prompts, e.g. after editing a weight in place
        outside an optimizer step or ``load_state_dict``."""
        self._prompt_cache.clear()

    def load_clip_weights(self, source: str) -> None:
        """Load CLIP's text tower into the text encoder, strictly.

        Args:
            source (str): a CLIP archive, state dict, URL or
                ``open_clip://ARCH/TAG`` (see :func:`load_clip_state_dict`).

        Raises:
            CLIPWeightsError: the source is missing, not CLIP, or its text
                tower does not fit the text encoder.
        """
        self.text_encoder.load_clip(load_clip_state_dict(source))

    def _split_feats(self, feats: Sequence[Tensor]
                     ) -> Tuple[Tuple[Tensor, ...], Tensor, Tensor]:
        """Split the backbone output into (levels, dense, global)."""
        shapes = [
            tuple(feat.shape) if isinstance(feat, Tensor) else type(feat)
            for feat in feats
        ] if isinstance(feats, (tuple, list)) else type(feats)
        expected = (
            'PromptPoseNeck expects the backbone to return (*levels, dense '
            f'(B, {self.embed_dim}, h, w), global (B, {self.embed_dim})): '
            'set with_clip_space=True in the backbone config and '
            "embed_dim of the neck to the backbone's CLIP embedding size "
            f'(RN50: 1024, ViT-B/16: 512); got {shapes}')
        if not isinstance(feats, (tuple, list)) or len(feats) < 3:
            raise ValueError(expected)
        *levels, dense, global_feat = feats
        if not (isinstance(dense, Tensor) and isinstance(global_feat, Tensor)
                and dense.dim() == 4 and global_feat.dim() == 2
                and dense.shape[1] == self.embed_dim
                and global_feat.shape == (dense.shape[0], self.embed_dim)):
            raise ValueError(expected)
        return tuple(levels), dense, global_feat

    def _encode_prompts(self) -> Tensor:
        # float32 under any autocast: computed once per weights, and the
        # text path is what ties the keypoints to their names
        with full_precision(self.text_encoder):
            text = self.text_encoder()
            if self.prompt_encoder is not None:
                text = self.prompt_encoder(text)
        return text

    def prompts(self) -> Tensor:
        """The keypoint prompts before the context decoder.

        Text encoder, then prompt encoder. In eval mode they are computed
        once, without gradient, and reused until the mode changes, an
        optimizer steps, ``load_state_dict`` loads weights, their dtype or
        device changes, or :meth:`clear_prompt_cache` (see
        :class:`PromptCache`). In training they are computed every call.

        Returns:
            Tensor: ``(K, D)``; without gradient in eval mode.
        """
        if self.training:
            return self._encode_prompts()
        return self._prompt_cache.get(self._encode_prompts)

    def forward(self,
                feats: Sequence[Tensor],
                prompts: Optional[Tensor] = None) -> PromptPoseFeatures:
        """Compute the prompts and the score map.

        Args:
            feats (tuple[Tensor]): the backbone output ``(*levels, dense
                (B, D, h, w), global (B, D))``.
            prompts (Tensor, optional): ``(K, D)`` prompts to use instead of
                :meth:`prompts` (an exported model's stored ones).

        Returns:
            PromptPoseFeatures: ``visual`` (the levels), ``score_map``
            ``(B, K, h, w)`` of cosine similarities in ``[-1, 1]``,
            ``dense`` ``(B, D, h, w)`` and ``text`` ``(B, K, D)``.
        """
        levels, dense, global_feat = self._split_feats(feats)
        if prompts is None:
            prompts = self.prompts()
        text, score_map = self.score(prompts, dense, global_feat)
        return PromptPoseFeatures(
            visual=levels, score_map=score_map, dense=dense, text=text)

    def score(self, prompts: Tensor, dense: Tensor,
              global_feat: Tensor) -> Tuple[Tensor, Tensor]:
        """Adapt the prompts to each image and compare them with its pixels.

        Args:
            prompts (Tensor): ``(K, D)`` from :meth:`prompts`.
            dense (Tensor): the dense CLIP-space map ``(B, D, h, w)``.
            global_feat (Tensor): the global CLIP embedding ``(B, D)``.

        Returns:
            tuple[Tensor, Tensor]: the prompts after the context decoder
            ``(B, K, D)`` and the score map ``(B, K, h, w)`` of their cosine
            similarities with every location.
        """
        text = prompts.unsqueeze(0).expand(dense.shape[0], -1, -1)
        if self.context_decoder is not None:
            memory = torch.cat(
                [global_feat.unsqueeze(1),
                 dense.flatten(2).transpose(1, 2)],
                dim=1)
            text = text + self.gamma * self.context_decoder(text, memory)
        score_map = torch.einsum('bdhw,bkd->bkhw', F.normalize(dense, dim=1),
                                 F.normalize(text, dim=2))
        return text, score_map
