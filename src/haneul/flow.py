"""Rectified flow (flow matching): the training target, the time schedule and the samplers.

Plain functions in the style of Flux's `sampling.py`. Convention (Liu et al. 2022; Esser et al. 2024, SD3):

    x_t = (1 - t) * x0 + t * noise,   t in [0, 1]  (1 = pure noise, 0 = clean)
    v   = dx_t/dt = noise - x0        (the network's target)

Sampling integrates dx/dt = v from t = 1 to t = 0. Time is per latent frame, shape (B, F): frames given
clean as conditioning (image-to-video, extension, interpolation) sit at t = 0 and are held at their clean
latents throughout, so the same loop serves every conditioning mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from haneul.errors import InputError

VelocityFn = Callable[[Tensor, Tensor], Tensor]  # (x (B, C, F, H, W), t (B, F)) -> v (B, C, F, H, W)
SAMPLERS = ("euler", "heun")


def shift_for_tokens(
    num_tokens: int,
    base_tokens: int = 256,
    max_tokens: int = 4096,
    base_shift: float = 0.5,
    max_shift: float = 1.15,
) -> float:
    """Timestep shift for a video of `num_tokens` tokens: exp(mu), mu linear in the token count.

    Flux's rule (SD3 section 5.3.2): more tokens carry more redundant signal, so the same noise level
    destroys less of the picture; shifting time towards the noisy end compensates. Defaults are Flux's:
    256 tokens -> shift e^0.5 = 1.65, 4096 tokens -> e^1.15 = 3.16 (and beyond, extrapolated).
    """
    slope = (max_shift - base_shift) / (max_tokens - base_tokens)
    return math.exp(base_shift + slope * (num_tokens - base_tokens))


def shift_time(t: Tensor, shift: float) -> Tensor:
    """t' = shift * t / (1 + (shift - 1) * t): monotonic, fixes 0 and 1, spends more steps near t = 1."""
    return shift * t / (1 + (shift - 1) * t)


def timesteps(num_steps: int, shift: float = 1.0) -> Tensor:
    """(num_steps + 1,) float32 times from 1 down to 0, uniform in unshifted time."""
    if num_steps < 1:
        raise InputError(f"num_steps must be at least 1, got {num_steps}")
    return shift_time(torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64), shift).float()


def sample_training_time(
    batch: int,
    generator: torch.Generator | None = None,
    mean: float = 0.0,
    std: float = 1.0,
    shift: float = 1.0,
) -> Tensor:
    """(batch,) training times from a logit-normal distribution, optionally shifted.

    t = sigmoid(mean + std * N(0, 1)): SD3 found this (mean 0, std 1) beats uniform t because it
    concentrates training on the middle times, where predicting the velocity is hardest.
    """
    t = torch.sigmoid(mean + std * torch.randn(batch, generator=generator))
    return shift_time(t, shift)


def frame_times(t: Tensor, given: Tensor) -> Tensor:
    """Per-clip t (B,) -> per-frame t (B, F): the same t on every frame, 0 on given frames."""
    return torch.where(given, torch.zeros((), dtype=t.dtype), t[:, None].expand(given.shape))


def add_noise(x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
    """x_t = (1 - t) x0 + t noise with t (B, F) per latent frame; frames with t = 0 stay exactly x0."""
    t = t[:, None, :, None, None].to(x0.dtype)
    return (1 - t) * x0 + t * noise


def flow_matching_loss(pred_v: Tensor, x0: Tensor, noise: Tensor, given: Tensor) -> Tensor:
    """MSE between the predicted and true velocity (noise - x0), over non-given frames only.

    Given frames are inputs, not predictions, so they carry no loss. Each non-given latent frame counts
    equally (mean over its C*H*W values); the result is a scalar in fp32.
    """
    per_frame = (pred_v.float() - (noise.float() - x0.float())).square().mean(dim=(1, 3, 4))  # (B, F)
    weight = (~given).float()
    return (per_frame * weight).sum() / weight.sum().clamp(min=1.0)


def sample(
    velocity_fn: VelocityFn,
    noise: Tensor,
    timesteps: Tensor,
    *,
    method: str = "euler",
    given_latents: Tensor | None = None,
    given: Tensor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Integrate dx/dt = v from t = timesteps[0] (noise) to timesteps[-1] (clean latents).

    noise (B, C, F, H, W); timesteps (S + 1,) decreasing; given (B, F) bool with given_latents
    (B, C, F, H, W): those frames are set to their clean latents, see t = 0 at every step and are never
    updated. "euler" takes one velocity evaluation per step; "heun" (second order, EDM's Algorithm 1) takes
    two, except on a final step to t = 0, which is an Euler step. progress(step, total) is called after each
    step. No randomness inside: the same noise gives the same result.
    """
    if method not in SAMPLERS:
        raise InputError(f"sampler {method!r} is not one of {SAMPLERS}")
    b, _, f = noise.shape[:3]
    if given is None:
        given = torch.zeros(b, f, dtype=torch.bool, device=noise.device)
    elif given_latents is None:
        raise InputError("given frames need given_latents")

    def hold(x: Tensor) -> Tensor:
        return x if given_latents is None else torch.where(given[:, None, :, None, None], given_latents, x)

    def times(t: Tensor) -> Tensor:
        return frame_times(t.expand(b).to(noise.dtype), given)

    x = hold(noise)
    total = len(timesteps) - 1
    for i in range(total):
        t_cur, t_next = timesteps[i], timesteps[i + 1]
        dt = (t_next - t_cur).to(noise.dtype)
        v = velocity_fn(x, times(t_cur))
        x_next = x + dt * v
        if method == "heun" and t_next > 0:
            v_next = velocity_fn(hold(x_next), times(t_next))
            x_next = x + dt * 0.5 * (v + v_next)
        x = hold(x_next)
        if progress is not None:
            progress(i + 1, total)
    return x


def invert(
    velocity_fn: VelocityFn,
    latents: Tensor,
    timesteps: Tensor,
    *,
    given: Tensor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Integrate dx/dt = v up from clean `latents` at timesteps[0] = 0 to timesteps[-1] (Euler steps).

    The inverse of `flow.sample` on the same grid (Song et al. 2021's DDIM inversion, for flows as in
    RF-Inversion and FlowEdit): sampling back down from the result lands near `latents`, and an edit
    started there keeps more of the input than one from fresh noise. Each step takes the velocity at its
    upper end's time, t_next, with the current x: the sampler's Euler step back down from t_next uses that
    time, and a clean frame at t = 0 that is not given is a case the model never saw (with the lower end's
    time the bundled model's edits kept less: docs/modes.md, session 8). given (B, F) frames stay at their
    latents and see t = 0.
    """
    b, _, f = latents.shape[:3]
    if given is None:
        given = torch.zeros(b, f, dtype=torch.bool, device=latents.device)
    mask = given[:, None, :, None, None]
    x = latents
    total = len(timesteps) - 1
    for i in range(total):
        t_cur, t_next = timesteps[i], timesteps[i + 1]
        t = frame_times(t_next.expand(b).to(latents.dtype), given)
        x = torch.where(mask, latents, x + (t_next - t_cur).to(latents.dtype) * velocity_fn(x, t))
        if progress is not None:
            progress(i + 1, total)
    return x
