"""Guidance kept outside the model: classifier-free guidance (Ho & Salimans 2022) with a negative prompt,
and autoguidance (Karras et al. 2024) by a weaker transformer of the same task.

    v = v_cond + (scale - 1) * (v_cond - v_neg) + (guide_scale - 1) * (v_cond - v_guide)

v_neg is the velocity for the negative prompt (the empty prompt when the user gives none); v_guide is the
guide transformer's velocity for the same prompt. With guide_scale 1 this is plain CFG, v_neg + scale *
(v_cond - v_neg); with scale 1 it is plain autoguidance, v_guide + guide_scale * (v_cond - v_guide).
Why autoguidance: CFG pushes away from the unconditional prediction, which also pushes away from the
plausible; a weaker model of the same task errs in the same places as this one, only more, so pushing
away from it removes those errors (for the bundled model: washed colours, blobs in several places).
The conditional and the negative pass run as one batched forward, which on the CPU is faster than two
forwards of half the size (larger matmuls). Scale 1 skips the negative pass, guide_scale 1 the guide's.
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
    guide: nn.Module | None = None,
    guide_scale: float = 1.0,
) -> Tensor:
    """Guided velocity (B, C, F, H, W) for the DiT `model`, optionally autoguided by the DiT `guide`.

    x (B, C, F, H, W), t and given (B, F), context (B, L, D) / context_mask (B, L); neg_context (B or 1, L', D)
    and neg_context_mask (B or 1, L'), broadcast over the batch when they have one row.
    """
    v, v_cond = classifier_free(
        model, x, t, context, context_mask, neg_context, neg_context_mask, given, scale
    )
    if guide is None or guide_scale == 1.0:
        return v
    return v + (guide_scale - 1.0) * (v_cond - guide(x, t, context, context_mask, given))


def classifier_free(
    model: nn.Module,
    x: Tensor,
    t: Tensor,
    context: Tensor,
    context_mask: Tensor,
    neg_context: Tensor,
    neg_context_mask: Tensor,
    given: Tensor,
    scale: float,
) -> tuple[Tensor, Tensor]:
    """(v_neg + scale * (v_cond - v_neg), v_cond), both from one batched forward (one plain forward at scale 1)."""
    if scale == 1.0:
        v_cond = model(x, t, context, context_mask, given)
        return v_cond, v_cond
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
    return v_neg + scale * (v_cond - v_neg), v_cond
