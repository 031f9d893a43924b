"""CLIP's frozen text transformer with learnable prompt context vectors."""
import logging
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn

from promptpose_mm.models.clip import CLIPWeightsError, open_clip_api

# The state-dict keys of CLIP's text tower (OpenAI names, top level).
CLIP_TEXT_PREFIXES = open_clip_api.TEXT_STATE_PREFIXES


def causal_attention(attn: nn.MultiheadAttention,
                     x: Tensor,
                     memory: Optional[Tensor] = None) -> Tensor:
    """Causal self-attention of ``x`` after a shared ``memory`` prefix.

    Row ``i`` of ``x`` attends to every memory token and to rows ``0..i``
    of ``x``: the attention output of the last ``S`` tokens of each
    sequence ``memory + x[n]`` under a causal mask, without repeating the
    memory's projections per sequence.

    Args:
        attn (nn.MultiheadAttention): batch-first attention whose packed
            input projection and output projection are used (no dropout).
        x (Tensor): normalised tokens ``(N, S, W)``.
        memory (Tensor, optional): normalised shared tokens ``(1, M, W)``.

    Returns:
        Tensor: ``(N, S, W)``, after the output projection.
    """
    num, length, width = x.shape
    weight, bias, out_proj, num_heads = open_clip_api.attention_in_projection(
        attn)
    query, key, value = F.linear(x, weight, bias).chunk(3, dim=-1)
    shared = 0
    if memory is not None:
        shared = memory.shape[1]
        memory_kv = F.linear(memory, weight[width:], bias[width:])
        memory_key, memory_value = memory_kv.expand(num, -1, -1).chunk(
            2, dim=-1)
        key = torch.cat([memory_key, key], dim=1)
        value = torch.cat([memory_value, value], dim=1)
    allowed = torch.ones(
        length, shared + length, dtype=torch.bool,
        device=x.device).tril(diagonal=shared)

    def split_heads(tokens: Tensor) -> Tensor:  # (N, n, W) -> (N, h, n, d)
        return tokens.unflatten(-1, (num_heads, -1)).transpose(1, 2)

    out = F.scaled_dot_product_attention(
        split_heads(query),
        split_heads(key),
        split_heads(value),
        attn_mask=allowed)
    return out_proj(out.transpose(1, 2).flatten(2))


class PromptTextEncoder(BaseModule):
    """Encode one learnable-context prompt per keypoint with frozen CLIP.

    The prompt of keypoint ``k`` is ``[SOS] + context + name_k + [EOS]``:
    ``num_context`` learnable vectors (shared by all keypoints) inserted
    after the start token, then the tokens of the keypoint's name. The
    sequence is padded to ``L = num_context + name_length`` tokens (13 by
    default, as in DenseCLIP), or longer when a name needs it (names are
    never truncated), and uses CLIP's first ``L`` positional embeddings and
    a causal mask of size ``L``. The prompt embedding is the ``[EOS]``
    token's output after ``ln_final``, times ``text_projection``.

    The CLIP weights (open_clip's :class:`TextTransformer`, QuickGELU) are
    frozen and kept in eval mode; gradients flow through them into
    ``context``. Every call runs the transformer: at inference
    :class:`PromptPoseNeck` caches the prompts (see
    :meth:`PromptPoseNeck.prompts`), so the text encoder runs once.

    Args:
        keypoint_names (Sequence[str]): the ``K`` names, in keypoint order.
        embed_dim (int): CLIP's joint embedding size ``D`` (1024 for RN50,
            512 for ViT-B/16).
        num_context (int): number of learnable context vectors.
        name_length (int): tokens reserved for ``[SOS] + name + [EOS]``.
        context_length (int): CLIP's number of positional embeddings.
        vocab_size (int): CLIP's vocabulary size.
        width (int): text transformer width.
        heads (int): attention heads.
        layers (int): transformer layers.
        mlp_ratio (float): MLP hidden size over width.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 keypoint_names: Sequence[str],
                 embed_dim: int = 1024,
                 num_context: int = 8,
                 name_length: int = 5,
                 context_length: int = 77,
                 vocab_size: int = 49408,
                 width: int = 512,
                 heads: int = 8,
                 layers: int = 12,
                 mlp_ratio: float = 4.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_context < 0:
            raise ValueError(f'num_context must be >= 0, got {num_context}')
        self.keypoint_names = list(keypoint_names)
        self.num_context = num_context
        self.clip = open_clip_api.build_text_tower(
            context_length=context_length,
            vocab_size=vocab_size,
            width=width,
            heads=heads,
            layers=layers,
            mlp_ratio=mlp_ratio,
            embed_dim=embed_dim)
        self.clip.requires_grad_(False)
        self.clip.eval()
        # As the published code: randn, then trunc_normal_ with its
        # defaults (std 1, cut at +-2), which gives a std of about 0.88.
        self.context = nn.Parameter(torch.randn(num_context, width))
        nn.init.trunc_normal_(self.context)

        tokens, eos_index = self._tokenize(self.keypoint_names, name_length,
                                           context_length)
        # Derived from the config, so not saved in checkpoints.
        self.register_buffer('name_tokens', tokens, persistent=False)
        self.register_buffer('eos_index', eos_index, persistent=False)
        self.prompt_length = num_context + tokens.shape[1]

    def _tokenize(self, names: List[str], name_length: int,
                  context_length: int) -> Tuple[Tensor, Tensor]:
        """Tokenize ``[SOS] + name + [EOS]`` for every name.

        Returns:
            tuple[Tensor, Tensor]: tokens ``(K, T)`` zero-padded, with
            ``T = max(name_length, longest)``, and the position of each
            ``[EOS]`` in the full prompt (``(K,)``, context included).
        """
        if not names:
            raise ValueError('PromptTextEncoder needs at least one name')
        room = context_length - self.num_context
        # One slot more than fits, so that a truncated name shows. The
        # [EOS] token has the largest id, as CLIP's own pooling assumes.
        tokens = open_clip_api.tokenize(names, context_length=room + 1)
        lengths = tokens.argmax(dim=1) + 1
        longest = int(lengths.max())
        if longest > room:
            raise ValueError(
                f'keypoint name {names[int(lengths.argmax())]!r} is too long: '
                f'with num_context={self.num_context} a prompt holds at most '
                f'{room - 2} name tokens (CLIP context_length '
                f'{context_length})')
        if longest > name_length:
            print_log(
                f'PromptTextEncoder: a keypoint name needs {longest} tokens '
                f'(with [SOS] and [EOS]), more than name_length='
                f'{name_length}; prompts use {self.num_context + longest} '
                'tokens instead of truncating',
                logger='current',
                level=logging.INFO)
        length = max(name_length, longest)
        return tokens[:, :length], lengths - 1 + self.num_context

    @property
    def embed_dim(self) -> int:
        """The output size ``D``."""
        return open_clip_api.text_embed_dim(self.clip)

    def train(self, mode: bool = True) -> 'PromptTextEncoder':
        """Set the mode; the frozen CLIP weights always stay in eval."""
        super().train(mode)
        self.clip.eval()
        return self

    def forward(self) -> Tensor:
        """Run the text transformer on all prompts.

        Under CLIP's causal mask the ``P = 1 + num_context`` tokens that all
        prompts share (``[SOS]`` and the context) have the same states in
        every prompt, so they are run once, and only the ``K`` name parts
        run per keypoint, attending to the shared part; the result equals
        running the ``K`` full prompts (``P + S`` tokens each). The shared
        part's last layer is skipped: only the ``[EOS]`` outputs are used.

        Returns:
            Tensor: the keypoint prompt embeddings ``(K, D)``, not
            normalised.
        """
        clip = self.clip
        dtype = open_clip_api.text_cast_dtype(clip)
        positions = open_clip_api.text_positions(clip).to(dtype)
        shared = 1 + self.num_context
        embedded = open_clip_api.text_embed(clip, self.name_tokens).to(dtype)
        prefix = torch.cat(
            [embedded[:1, :1], self.context.to(dtype)[None]],
            dim=1) + positions[:shared]  # (1, P, W)
        names = embedded[:, 1:] + positions[shared:self.prompt_length]
        blocks = open_clip_api.transformer_blocks(clip)
        for index, block in enumerate(blocks):
            attn = open_clip_api.block_attention(block)
            prefix_in = open_clip_api.block_attention_input(block, prefix)
            names = open_clip_api.residual_block_forward(
                block,
                names,
                attend=partial(causal_attention, attn, memory=prefix_in))
            if index < len(blocks) - 1:
                prefix = open_clip_api.residual_block_forward(
                    block,
                    prefix,
                    attend=partial(causal_attention, attn),
                    normed=prefix_in)
        num = names.shape[0]
        eos = names[torch.arange(num, device=names.device),
                    self.eos_index - shared]
        return open_clip_api.text_final(clip, eos)

    def load_clip(self, state: Dict[str, Tensor]) -> None:
        """Load the text tower from a full CLIP state dict, strictly.

        Args:
            state (dict[str, Tensor]): CLIP weights with OpenAI's key names,
                as :func:`load_clip_state_dict` returns (``visual.*`` and
                other non-text keys are ignored).

        Raises:
            CLIPWeightsError: a text key is missing or unexpected, or a
                shape differs from what this encoder was built for.
        """
        expected = self.clip.state_dict()
        given = {
            key: value
            for key, value in state.items()
            if key.startswith(CLIP_TEXT_PREFIXES)
        }
        missing = sorted(set(expected) - set(given))
        unexpected = sorted(set(given) - set(expected))
        mismatched = [
            f'{key}: expected {tuple(value.shape)}, got '
            f'{tuple(given[key].shape)}' for key, value in expected.items()
            if key in given and given[key].shape != value.shape
        ]
        if missing or unexpected or mismatched:
            arch = open_clip_api.text_tower_config(self.clip)
            problems = []
            if missing:
                problems.append(f'missing keys {missing[:8]}'
                                f'{" ..." if len(missing) > 8 else ""}')
            if unexpected:
                problems.append(f'unexpected keys {unexpected[:8]}'
                                f'{" ..." if len(unexpected) > 8 else ""}')
            if mismatched:
                problems.append('shape mismatch: ' + '; '.join(mismatched))
            raise CLIPWeightsError(
                'the CLIP weights do not fit the text encoder, which was '
                f"built with width={arch['width']}, heads={arch['heads']}, "
                f"layers={arch['layers']}, context_length="
                f"{arch['context_length']}, vocab_size={arch['vocab_size']}, "
                f'embed_dim={self.embed_dim} (RN50: embed_dim 1024, '
                'ViT-B/16: embed_dim 512; both width 512, 8 heads, 12 '
                f'layers): {", ".join(problems)}')
        self.clip.load_state_dict(given, strict=True)
