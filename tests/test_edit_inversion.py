"""Edits started from the inverted latents of their input (pipeline.invert), through the tiny model."""

import copy

import numpy as np
import pytest
import torch

from haneul.conditioning import FrameCondition
from haneul.flow import invert, sample, shift_for_tokens, timesteps
from haneul.pipeline import Pipeline, _truncate_schedule


@pytest.fixture(scope="module")
def live_pipe(tiny_pipe):
    """The tiny pipeline with every DiT weight nudged: at init its output layers are zero, so its velocity is
    zero everywhere and any inversion would round-trip exactly."""
    dit = copy.deepcopy(tiny_pipe.dit)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
    return Pipeline(tiny_pipe.vae, dit, tiny_pipe.text_encoder, tiny_pipe.spec, card=tiny_pipe.card)


def clip(n, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (n, 64, 64, 3), dtype=np.uint8)


def test_invert_is_exact_for_a_constant_field():
    # dx/dt = c: Euler is exact either way, so inverting then sampling returns the start to rounding
    z = torch.randn(1, 4, 3, 8, 8)
    c = torch.randn_like(z)
    ts = torch.tensor([0.5, 0.3, 0.1, 0.0])
    up = invert(lambda x, t: c, z, ts.flip(0))
    assert torch.allclose(up, z + 0.5 * c, atol=1e-6)
    assert torch.allclose(sample(lambda x, t: c, up, ts), z, atol=1e-6)


def test_round_trip_through_the_model_returns_the_latents(live_pipe):
    # The tiny model's own field: invert with a prompt, sample back down with the same prompt and no
    # guidance. That lands far nearer the source than SDEdit's fresh noise does: what keeps an edit's layout.
    pipe = live_pipe
    z = pipe._encode(clip(9)).cpu()
    context = pipe.text_encoder.encode(["a red ball rolls right"])
    given = torch.zeros(1, z.shape[2], dtype=torch.bool)
    ts = _truncate_schedule(timesteps(8, shift_for_tokens(z[0, 0].numel() // 4)), 0.5)

    def velocity(x, t):
        return pipe.dit(x, t, *context, given).float()

    up = pipe._invert(z, ts, given, context, None)
    back = sample(velocity, up, ts)
    noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(0))
    fresh = sample(velocity, 0.5 * z + 0.5 * noise, ts)
    round_trip, sdedit = (back - z).abs().mean(), (fresh - z).abs().mean()
    # measured 0.037 vs 0.435; skipping the inversion (start at z itself) would give about 0.13
    assert round_trip < 0.2 * sdedit, (round_trip, sdedit)


def test_strength_zero_returns_the_input(tiny_pipe):
    video = clip(9)
    out = tiny_pipe.generate("a ball", num_frames=9, init_video=video, strength=0.0)
    assert np.array_equal(out.frames, video)


def test_strength_one_ignores_the_input(live_pipe):
    kwargs = dict(num_frames=9, num_steps=2, seed=3, strength=1.0)
    a = live_pipe.generate("a ball", init_video=clip(9, seed=1), **kwargs).frames
    b = live_pipe.generate("a ball", init_video=clip(9, seed=2), **kwargs).frames
    plain = live_pipe.generate("a ball", num_frames=9, num_steps=2, seed=3).frames
    assert np.array_equal(a, b) and np.array_equal(a, plain)


def test_edit_is_reproducible_and_counts_the_inversion_steps(live_pipe):
    seen = []
    kwargs = dict(init_video=clip(9), strength=0.6, num_frames=9, num_steps=6, seed=1)
    out = live_pipe.generate("a ball", progress=lambda s, n: seen.append((s, n)), **kwargs).frames
    again = live_pipe.generate("a ball", **kwargs).frames
    old = live_pipe.generate("a ball", invert=False, **kwargs).frames
    assert np.array_equal(out, again) and not np.array_equal(out, old)
    # inversion and sampling each take the truncated schedule's steps; one bar counts both
    total = seen[-1][1]
    assert seen == [(i, total) for i in range(1, total + 1)] and total % 2 == 0


def test_long_edits_invert_every_window(live_pipe, monkeypatch):
    import haneul.flow

    calls = {"invert": 0, "sample": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(haneul.flow, "invert", counted("invert", haneul.flow.invert))
    monkeypatch.setattr(haneul.flow, "sample", counted("sample", haneul.flow.sample))
    kwargs = dict(init_video=clip(25), strength=0.5, num_frames=25, num_steps=2, seed=0)
    out = live_pipe.generate("a ball", **kwargs).frames
    assert calls["sample"] >= 2 and calls["invert"] == calls["sample"]  # one inversion per window
    old = live_pipe.generate("a ball", invert=False, **kwargs).frames
    assert out.shape == old.shape == (25, 64, 64, 3) and not np.array_equal(out[-8:], old[-8:])


def test_extension_is_not_inverted(live_pipe):
    # init_video with conditions (extension, join: a guessed continuation) keeps SDEdit's fresh noise
    prior = clip(9)
    conditions = [FrameCondition(prior[:5], 0)]
    kwargs = dict(init_video=prior, strength=0.7, conditions=conditions, num_frames=9, num_steps=3, seed=2)
    inverted = live_pipe.generate("a ball", **kwargs).frames
    fresh = live_pipe.generate("a ball", invert=False, **kwargs).frames
    assert np.array_equal(inverted, fresh)
