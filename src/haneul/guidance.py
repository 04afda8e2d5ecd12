"""Classifier-free guidance (Ho & Salimans 2022) with a negative prompt, kept outside the model.

    v = v_neg + scale * (v_cond - v_neg)

v_neg is the velocity for the negative prompt (the empty prompt when the user gives none). The
conditional and the negative pass run as one batched forward, which on the CPU is faster than two
forwards of half the size (larger matmuls). Scale 1 is the conditional output and skips the second pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def pad_context(context: Tensor, mask: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """Pad text features (B, L, D) and mask (B, L) to `length` tokens; the padding is masked out."""
    extra = length - context.shape[1]
    return F.pad(context, (0, 0, 0, extra)), F.pad(mask, (0, extra), value=False)


def guided_velocity(
    model: nn.Module,
    x: Tensor,
    t: Tensor,
    context: Tensor,
    context_mask: Tensor,
    neg_context: Tensor,
    neg_context_mask: Tensor,
    given: Tensor,
    scale: float,
) -> Tensor:
    """Guided velocity (B, C, F, H, W) for the DiT `model`.

    x (B, C, F, H, W), t and given (B, F), context (B, L, D) / context_mask (B, L); neg_context (B or 1, L', D)
    and neg_context_mask (B or 1, L'), broadcast over the batch when they have one row.
    """
    if scale == 1.0:
        return model(x, t, context, context_mask, given)
    b = x.shape[0]
    neg_context = neg_context.expand(b, -1, -1)
    neg_context_mask = neg_context_mask.expand(b, -1)
    length = max(context.shape[1], neg_context.shape[1])
    context, context_mask = pad_context(context, context_mask, length)
    neg_context, neg_context_mask = pad_context(neg_context, neg_context_mask, length)
    v = model(
        torch.cat([x, x]),
        torch.cat([t, t]),
        torch.cat([context, neg_context]),
        torch.cat([context_mask, neg_context_mask]),
        torch.cat([given, given]),
    )
    v_cond, v_neg = v.chunk(2)
    return v_neg + scale * (v_cond - v_neg)
