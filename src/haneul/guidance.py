"""Guidance kept outside the model: classifier-free guidance (Ho & Salimans 2022) with a negative prompt,
autoguidance (Karras et al. 2024) by a weaker transformer of the same task, and contrast guidance by the
caption with its words swapped.

    v = v_cond + (scale - 1) * (v_cond - v_neg) + (guide_scale - 1) * (v_cond - v_guide)
               + (contrast_scale - 1) * (v_cond - v_contrast)

v_neg is the velocity for the negative prompt (the empty prompt when the user gives none); v_guide is the
guide transformer's velocity for the same prompt. With guide_scale 1 this is plain CFG, v_neg + scale *
(v_cond - v_neg); with scale 1 it is plain autoguidance, v_guide + guide_scale * (v_cond - v_guide).
Why autoguidance: CFG pushes away from the unconditional prediction, which also pushes away from the
plausible; a weaker model of the same task errs in the same places as this one, only more, so pushing
away from it removes those errors (for the bundled model: washed colours, blobs in several places).
v_contrast is this model's velocity for the caption with its kind (and place, direction) words swapped for
others ("a blue star at the top" -> "a blue ring at the bottom right"; `haneul.world.captions.swap_all`).
Why: the bundled model follows colour and background words but draws the same blob for every kind; the
difference between the true and the swapped caption's velocities is the part that depends on those words,
and contrast guidance amplifies just that part (a negative prompt made of the wrong words).
The conditional, negative and contrast passes run as one batched forward, which on the CPU is faster than
separate forwards (larger matmuls). Scale 1 skips the negative pass, guide_scale 1 the guide's,
contrast_scale 1 (or no contrast context) the contrast pass.
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
    contrast: tuple[Tensor, Tensor] | None = None,
    contrast_scale: float = 1.0,
) -> Tensor:
    """Guided velocity (B, C, F, H, W) for the DiT `model`, optionally autoguided by the DiT `guide` and
    contrast-guided by `contrast` (context, mask) for the swapped caption.

    x (B, C, F, H, W), t and given (B, F), context (B, L, D) / context_mask (B, L); neg_context (B or 1, L', D)
    and neg_context_mask (B or 1, L'), and contrast's, broadcast over the batch when they have one row.
    """
    others = []
    if scale != 1.0:
        others.append((neg_context, neg_context_mask))
    if contrast is not None and contrast_scale != 1.0:
        others.append(contrast)
    v_cond, *v_others = batched_velocities(model, x, t, [(context, context_mask), *others], given)
    v = v_cond
    if scale != 1.0:
        v_neg = v_others.pop(0)
        v = v_neg + scale * (v_cond - v_neg)
    if v_others:
        v = v + (contrast_scale - 1.0) * (v_cond - v_others.pop(0))
    if guide is not None and guide_scale != 1.0:
        v = v + (guide_scale - 1.0) * (v_cond - guide(x, t, context, context_mask, given))
    return v


def batched_velocities(
    model: nn.Module, x: Tensor, t: Tensor, contexts: list[tuple[Tensor, Tensor]], given: Tensor
) -> list[Tensor]:
    """The model's velocity at x for each (context, mask) of `contexts`, from one batched forward; contexts
    with one row are broadcast over x's batch, and all are padded to the longest."""
    if len(contexts) == 1:
        return [model(x, t, *contexts[0], given)]
    b = x.shape[0]
    length = max(c.shape[1] for c, _ in contexts)
    padded = [pad_context(c.expand(b, -1, -1), m.expand(b, -1), length) for c, m in contexts]
    n = len(contexts)
    v = model(
        torch.cat([x] * n),
        torch.cat([t] * n),
        torch.cat([c for c, _ in padded]),
        torch.cat([m for _, m in padded]),
        torch.cat([given] * n),
    )
    return list(v.chunk(n))
