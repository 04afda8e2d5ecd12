"""Rectified flow: sampler exactness and order, determinism, given frames held, the shift, the loss."""

import math

import pytest
import torch

from haneul.errors import InputError
from haneul.flow import (
    add_noise,
    flow_matching_loss,
    frame_times,
    sample,
    sample_training_time,
    shift_for_tokens,
    shift_time,
    timesteps,
)
from haneul.models.dit import DiT, dit_config


@pytest.mark.parametrize("method", ["euler", "heun"])
@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_constant_velocity_is_exact(method, shift):
    """x_0 = x_1 - v for a constant field, whatever the steps: Euler is exact there (and so is Heun)."""
    noise = torch.randn(2, 3, 4, 5, 6, dtype=torch.float64)
    v = torch.randn_like(noise)
    out = sample(lambda x, t: v, noise, timesteps(7, shift).double(), method=method)
    torch.testing.assert_close(out, noise - v, atol=1e-12, rtol=0)


def test_heun_beats_euler_on_a_known_ode():
    """dx/dt = x from t = 1 to 0: x(0) = x(1) / e. Heun (2nd order) must be much closer than Euler."""
    noise = torch.ones(1, 1, 1, 1, 1, dtype=torch.float64)
    exact = math.exp(-1.0)
    errors = {}
    for method in ("euler", "heun"):
        for steps in (4, 8):
            out = sample(lambda x, t: x, noise, timesteps(steps).double(), method=method)
            errors[method, steps] = abs(float(out) - exact)
    assert errors["heun", 4] < errors["euler", 4] / 5
    assert errors["euler", 8] < errors["euler", 4] and errors["heun", 8] < errors["heun", 4]
    # orders: halving the step halves Euler's error and quarters Heun's
    assert 1.7 < errors["euler", 4] / errors["euler", 8] < 2.3
    assert 3.2 < errors["heun", 4] / errors["heun", 8] < 4.8


def tiny_velocity():
    torch.manual_seed(0)
    model = DiT(dit_config("tiny"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    context = torch.randn(1, 4, model.config.text_dim)
    mask = torch.ones(1, 4, dtype=torch.bool)
    calls = []

    def velocity(x, t, given=None):
        calls.append(t.clone())
        g = given if given is not None else torch.zeros_like(t, dtype=torch.bool)
        return model(x, t, context, mask, g)

    return velocity, calls


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_deterministic_for_the_same_noise(method):
    velocity, _ = tiny_velocity()
    noise = torch.randn(1, 4, 2, 4, 4, generator=torch.Generator().manual_seed(3))
    a = sample(velocity, noise.clone(), timesteps(3, 2.0), method=method)
    b = sample(velocity, noise.clone(), timesteps(3, 2.0), method=method)
    assert torch.equal(a, b)
    other = torch.randn(1, 4, 2, 4, 4, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(a, sample(velocity, other, timesteps(3, 2.0), method=method))


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_given_frames_are_held_exactly_at_t_zero(method):
    velocity, calls = tiny_velocity()
    noise = torch.randn(1, 4, 3, 4, 4)
    clean = torch.randn(1, 4, 3, 4, 4)
    given = torch.tensor([[True, False, True]])  # first and last frame: interpolation
    steps = []
    out = sample(
        lambda x, t: velocity(x, t, given),
        noise,
        timesteps(3),
        method=method,
        given_latents=clean,
        given=given,
        progress=lambda i, n: steps.append((i, n)),
    )
    assert torch.equal(out[:, :, [0, 2]], clean[:, :, [0, 2]])
    assert not torch.equal(out[:, :, 1], noise[:, :, 1])
    assert all(torch.equal(t[given], torch.zeros(2)) for t in calls)
    assert all(bool((t[~given] > 0).all()) for t in calls)  # the generated frame is never at t = 0 on input
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert len(calls) == (3 if method == "euler" else 5)  # Heun's last step to t = 0 is an Euler step


def test_shift_is_monotonic_and_grows_with_tokens():
    shifts = [shift_for_tokens(n) for n in (64, 256, 576, 1024, 4096, 8192)]
    assert shifts == sorted(shifts) and len(set(shifts)) == len(shifts)
    assert shift_for_tokens(256) == pytest.approx(math.exp(0.5))
    t = torch.linspace(0, 1, 101)
    for shift in (0.5, 1.0, 3.0):
        s = shift_time(t, shift)
        assert (s[1:] > s[:-1]).all() and s[0] == 0 and s[-1] == 1
    assert (shift_time(t[1:-1], 3.0) > t[1:-1]).all()  # shift > 1 spends more time at high noise
    ts = timesteps(8, 2.5)
    assert ts.shape == (9,) and ts[0] == 1 and ts[-1] == 0 and (ts[1:] < ts[:-1]).all()
    with pytest.raises(InputError):
        timesteps(0)


def test_training_time_and_noising():
    g = torch.Generator().manual_seed(0)
    t = sample_training_time(10_000, g)
    assert 0 < t.min() and t.max() < 1 and abs(float(t.mean()) - 0.5) < 0.02
    assert torch.equal(t, sample_training_time(10_000, torch.Generator().manual_seed(0)))
    assert sample_training_time(10_000, g, shift=3.0).mean() > t.mean()
    given = torch.tensor([[True, False, False]])
    tf = frame_times(torch.tensor([0.7]), given)
    assert tf.tolist() == [[0.0, pytest.approx(0.7), pytest.approx(0.7)]]
    x0, noise = torch.randn(1, 2, 3, 4, 4), torch.randn(1, 2, 3, 4, 4)
    xt = add_noise(x0, noise, tf)
    assert torch.equal(xt[:, :, 0], x0[:, :, 0])
    torch.testing.assert_close(xt[:, :, 1], 0.3 * x0[:, :, 1] + 0.7 * noise[:, :, 1])


def test_loss_is_over_non_given_frames_only():
    x0, noise = torch.randn(2, 3, 4, 5, 5), torch.randn(2, 3, 4, 5, 5)
    target = noise - x0
    given = torch.zeros(2, 4, dtype=torch.bool)
    given[:, 0] = True
    assert float(flow_matching_loss(target, x0, noise, given)) == 0.0
    wrong_on_given = target.clone()
    wrong_on_given[:, :, 0] += 5.0
    assert float(flow_matching_loss(wrong_on_given, x0, noise, given)) == 0.0
    pred = torch.randn_like(x0)
    expected = (pred - target)[:, :, 1:].square().mean()
    torch.testing.assert_close(flow_matching_loss(pred, x0, noise, given), expected)
    no_given = torch.zeros_like(given)
    torch.testing.assert_close(flow_matching_loss(pred, x0, noise, no_given), (pred - target).square().mean())


def test_unknown_sampler_names_the_valid_ones():
    with pytest.raises(InputError, match="euler"):
        sample(lambda x, t: x, torch.zeros(1, 1, 1, 1, 1), timesteps(2), method="dpm")
