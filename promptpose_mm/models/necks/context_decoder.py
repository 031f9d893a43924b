"""The context decoder: keypoint prompts attend to the image (DenseCLIP)."""
import torch.nn.functional as F
from torch import Tensor, nn


class DecoderAttention(nn.Module):
    """Multi-head attention of DenseCLIP's context decoder.

    Separate ``q_proj``, ``k_proj`` and ``v_proj`` linear layers without
    bias, scaled dot-product attention over ``num_heads`` heads with no
    dropout on the attention probabilities, then the output projection
    ``proj`` (with bias) and dropout after it.

    Args:
        width (int): token size ``W``.
        num_heads (int): attention heads.
        dropout (float): dropout after the output projection.
    """

    def __init__(self, width: int, num_heads: int, dropout: float = 0.1):
        super().__init__()
        if width % num_heads:
            raise ValueError(f'DecoderAttention: width={width} is not '
                             f'divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width, bias=False)
        self.proj = nn.Linear(width, width)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, query: Tensor, memory: Tensor) -> Tensor:
        """Attend from ``query`` to ``memory``.

        Args:
            query (Tensor): ``(B, N, W)``.
            memory (Tensor): keys and values ``(B, M, W)``.

        Returns:
            Tensor: ``(B, N, W)``.
        """

        def split_heads(tokens: Tensor) -> Tensor:  # (B, n, W) -> (B,h,n,d)
            return tokens.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            split_heads(self.q_proj(query)), split_heads(self.k_proj(memory)),
            split_heads(self.v_proj(memory)))
        return self.proj_drop(self.proj(out.transpose(1, 2).flatten(2)))


class ContextDecoderLayer(nn.Module):
    """One pre-norm layer of DenseCLIP's context decoder.

    ``x + self_attn(norm1(x))``, then ``x + cross_attn(norm2(x), memory)``,
    then ``x + dropout(mlp(norm3(x)))`` with ``mlp = Linear, GELU, Dropout,
    Linear``. Dropout acts after the attention output projections and in
    the MLP only, never on attention probabilities.

    Args:
        width (int): token size ``W``.
        num_heads (int): attention heads.
        dropout (float): dropout probability.
        mlp_ratio (float): MLP hidden size over ``width``.
    """

    def __init__(self,
                 width: int,
                 num_heads: int,
                 dropout: float = 0.1,
                 mlp_ratio: float = 4.0):
        super().__init__()
        self.self_attn = DecoderAttention(width, num_heads, dropout)
        self.cross_attn = DecoderAttention(width, num_heads, dropout)
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.norm3 = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, width))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Also read checkpoints of the former ``nn.TransformerDecoderLayer``
        layout (``in_proj_weight``, ``multihead_attn``, ``linear1/2``).

        A nonzero former q/k/v bias has no place here; it stays as an
        unexpected key, so that loading reports it.
        """
        renames = (('self_attn.out_proj.', 'self_attn.proj.'),
                   ('multihead_attn.out_proj.', 'cross_attn.proj.'),
                   ('linear1.', 'mlp.0.'), ('linear2.', 'mlp.3.'))
        for old, new in renames:
            for key in [k for k in state_dict if k.startswith(prefix + old)]:
                state_dict[prefix + new + key[len(prefix + old):]] = (
                    state_dict.pop(key))
        for old, new in (('self_attn.', 'self_attn.'), ('multihead_attn.',
                                                        'cross_attn.')):
            weight = state_dict.get(f'{prefix}{old}in_proj_weight')
            bias = state_dict.get(f'{prefix}{old}in_proj_bias')
            if weight is None or (bias is not None and bias.any()):
                continue
            state_dict.pop(f'{prefix}{old}in_proj_weight')
            state_dict.pop(f'{prefix}{old}in_proj_bias', None)
            for part, chunk in zip('qkv', weight.chunk(3)):
                state_dict[f'{prefix}{new}{part}_proj.weight'] = chunk
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor, memory: Tensor) -> Tensor:
        """Refine the prompt tokens.

        Args:
            x (Tensor): prompt tokens ``(B, K, W)``.
            memory (Tensor): visual tokens ``(B, N, W)``.

        Returns:
            Tensor: ``(B, K, W)``.
        """
        normed = self.norm1(x)
        x = x + self.self_attn(normed, normed)
        x = x + self.cross_attn(self.norm2(x), memory)
        return x + self.dropout(self.mlp(self.norm3(x)))


class ContextDecoder(nn.Module):
    """Refine text prompts with cross-attention to visual tokens.

    As DenseCLIP's context decoder: the visual memory is projected by
    ``LN(D) -> Linear(D, width) -> LN(width)``, the prompts by
    ``LN(D) -> Linear(D, width)``; ``layers`` pre-norm decoder layers
    (:class:`ContextDecoderLayer`: self-attention among the prompts,
    cross-attention to the memory, MLP) follow, and
    ``LN(width) -> Linear(width, D)`` maps the result back. The output is
    the refinement, which the caller scales and adds. Every linear layer
    starts truncated-normal with std 0.02 (``trunc_normal_`` with its
    default cut at +-2) and zero bias, every LayerNorm at one and zero.

    Args:
        embed_dim (int): prompt and visual token size ``D``.
        width (int): decoder width.
        layers (int): number of decoder layers.
        num_heads (int): attention heads.
        dropout (float): dropout after the attention output projections
            and in the MLP.
        mlp_ratio (float): MLP hidden size over ``width``.
    """

    def __init__(self,
                 embed_dim: int,
                 width: int = 256,
                 layers: int = 3,
                 num_heads: int = 4,
                 dropout: float = 0.1,
                 mlp_ratio: float = 4.0):
        super().__init__()
        if width % num_heads:
            raise ValueError(f'ContextDecoder: width={width} is not '
                             f'divisible by num_heads={num_heads}')
        self.memory_proj = nn.Sequential(
            nn.LayerNorm(embed_dim), nn.Linear(embed_dim, width),
            nn.LayerNorm(width))
        self.text_proj = nn.Sequential(
            nn.LayerNorm(embed_dim), nn.Linear(embed_dim, width))
        self.decoder = nn.ModuleList([
            ContextDecoderLayer(width, num_heads, dropout, mlp_ratio)
            for _ in range(layers)
        ])
        self.out_proj = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, embed_dim))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """DenseCLIP's init: truncated normal linears, unit LayerNorms."""
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, text: Tensor, visual: Tensor) -> Tensor:
        """Compute the refinement of the prompts.

        Args:
            text (Tensor): prompts ``(B, K, D)``.
            visual (Tensor): visual tokens ``(B, N, D)`` (global token and
                the flattened dense map).

        Returns:
            Tensor: the refinement ``(B, K, D)``.
        """
        memory = self.memory_proj(visual)
        x = self.text_proj(text)
        for layer in self.decoder:
            x = layer(x, memory)
        return self.out_proj(x)
