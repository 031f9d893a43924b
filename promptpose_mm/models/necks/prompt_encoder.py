"""The prompt encoder: keypoint prompts attend to each other."""
from torch import Tensor, nn

from promptpose_mm.models.clip.open_clip_api import (build_layer_norm,
                                                     build_residual_block,
                                                     run_block_batch_first)


class PromptEncoder(nn.Module):
    """One pre-LN transformer block over the ``K`` prompts, then LayerNorm.

    Self-attention lets every keypoint's prompt see the others (no
    positional embedding: the prompts form a set), followed by the block's
    MLP; both are residual (open_clip's :class:`ResidualAttentionBlock`,
    with CLIP's QuickGELU as in the published CLAMP code).

    Args:
        embed_dim (int): prompt size ``D``.
        num_heads (int): attention heads.
        mlp_ratio (float): MLP hidden size over ``D``.
    """

    def __init__(self,
                 embed_dim: int,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.0):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(
                f'PromptEncoder: embed_dim={embed_dim} is not divisible by '
                f'num_heads={num_heads}')
        self.block = build_residual_block(
            embed_dim, num_heads, mlp_ratio=mlp_ratio)
        self.norm = build_layer_norm(embed_dim)

    def forward(self, prompts: Tensor) -> Tensor:
        """Refine the prompts.

        Args:
            prompts (Tensor): ``(K, D)`` or ``(B, K, D)``.

        Returns:
            Tensor: the same shape as ``prompts``.
        """
        if prompts.dim() == 2:
            return self.forward(prompts.unsqueeze(0)).squeeze(0)
        if prompts.dim() != 3:
            raise ValueError('PromptEncoder expects prompts of shape (K, D) '
                             f'or (B, K, D), got {tuple(prompts.shape)}')
        return self.norm(run_block_batch_first(self.block, prompts))
