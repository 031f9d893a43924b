"""The context decoder: keypoint prompts attend to the image (DenseCLIP)."""
from torch import Tensor, nn


class ContextDecoder(nn.Module):
    """Refine text prompts with cross-attention to visual tokens.

    As DenseCLIP's context decoder: the visual memory is projected by
    ``LN(D) -> Linear(D, width) -> LN(width)``, the prompts by
    ``LN(D) -> Linear(D, width)``; ``layers`` pre-norm decoder layers
    (self-attention among the prompts, cross-attention to the memory, MLP)
    follow, and ``LN(width) -> Linear(width, D)`` maps the result back.
    The output is the refinement, which the caller scales and adds.

    Args:
        embed_dim (int): prompt and visual token size ``D``.
        width (int): decoder width.
        layers (int): number of decoder layers.
        num_heads (int): attention heads.
        dropout (float): dropout in attention and MLP.
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
            nn.TransformerDecoderLayer(
                width,
                num_heads,
                dim_feedforward=int(width * mlp_ratio),
                dropout=dropout,
                activation='gelu',
                batch_first=True,
                norm_first=True) for _ in range(layers)
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
