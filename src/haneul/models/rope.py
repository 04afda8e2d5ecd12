"""3D rotary position embedding (RoPE, Su et al. 2021) for spacetime tokens.

Each attention head's channels are split into rotation pairs, and the pairs are shared out among the
three axes (time, height, width), as in Wan 2.1: a token at patch (f, h, w) rotates its time pairs by
f * freq, its height pairs by h * freq and its width pairs by w * freq. Attention scores then depend only
on relative offsets, so the tables are computed for whatever grid arrives; there is no maximum size
baked into the weights.

We use the "rotate half" layout (pair i is channels i and i + head_dim/2), which needs no strided
(interleaved) indexing and is cheaper on the CPU than the interleaved layout.
"""

from __future__ import annotations

import torch
from torch import Tensor

from haneul.models.patchify import Grid


def axis_pairs(head_dim: int) -> tuple[int, int, int]:
    """Rotation pairs given to (time, height, width): height and width share equally, time gets the rest.

    Wan's split: for head_dim 64 that is (12, 10, 10) pairs.
    """
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for rotary embeddings, got {head_dim}")
    hw = head_dim // 6
    return head_dim // 2 - 2 * hw, hw, hw


def rope_tables(grid: Grid, head_dim: int, theta: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos and signed sin, each (N, head_dim) float32, for the tokens of one grid in (f, h, w) order.

    The sin table carries the rotation's sign (-sin on the first half, +sin on the second) so that
    `apply_rope` only swaps halves: x * cos + swap(x) * sin.
    """
    f, h, w = grid
    positions = torch.stack(
        torch.meshgrid(torch.arange(f), torch.arange(h), torch.arange(w), indexing="ij"), dim=-1
    ).reshape(-1, 3)  # (N, 3)
    angles = []
    for axis, pairs in enumerate(axis_pairs(head_dim)):
        # Standard RoPE frequencies within each axis' own sub-dimension: theta^(-2i/dim).
        freqs = theta ** (-torch.arange(pairs, dtype=torch.float64) / pairs)
        angles.append(positions[:, axis, None].double() * freqs)
    angles = torch.cat(angles, dim=-1)  # (N, head_dim/2)
    cos, sin = angles.cos(), angles.sin()
    # rotate-half layout: pair i is channels (i, i + head_dim/2)
    return torch.cat([cos, cos], dim=-1).float(), torch.cat([-sin, sin], dim=-1).float()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate x (..., N, head_dim) by the tables (N, head_dim) from `rope_tables`; computed in x's dtype.

    (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin), as three passes: swap, multiply, fused multiply-add.
    """
    x1, x2 = x.chunk(2, dim=-1)
    return torch.addcmul(x * cos.to(x.dtype), torch.cat([x2, x1], dim=-1), sin.to(x.dtype))
