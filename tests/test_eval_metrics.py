"""Each measurement on hand-made paths and frames: what is physical, smooth or continued scores 1, what is
not scores 0."""

import numpy as np

from haneul.eval import metrics
from haneul.eval.expected import ExpectedObject
from haneul.eval.match import Chain
from haneul.eval.track import Detection, Track

F = 32


def _object(path, visible=None, event="bounce"):
    path = np.asarray(path, dtype=np.float64)
    vis = np.ones(len(path)) if visible is None else np.asarray(visible, dtype=np.float64)
    return ExpectedObject(0, "ball", "red", event, path, vis, "ball", "red")


def _chain(path, frames=None):
    frames = range(len(path)) if frames is None else frames
    dets = [
        Detection(int(f), float(path[f][0]), float(path[f][1]), (0, 0, 1, 1), 300.0, "red", "ball")
        for f in frames
    ]
    return Chain([Track(0, dets)])


def _bounce(g=12.0, y0=30.0, floor=110.0, e=0.75, n=F):
    """Heights of a ball dropped at rest, sampled once a frame, bouncing with restitution e (exact)."""
    ys, y, v = [], y0, 0.0
    for _ in range(n):
        ys.append(y)
        t_left = 1.0
        while t_left > 1e-9:
            a, b, c = 0.5 * g, v, y - floor
            hit = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
            if hit < t_left and abs(v + g * hit) > 2.0:
                y, v, t_left = floor, -e * (v + g * hit), t_left - hit
            elif hit < t_left:
                y, v, t_left = floor, 0.0, 0.0
            else:
                y, v, t_left = y + v * t_left + 0.5 * g * t_left**2, v + g * t_left, 0.0
    return np.stack([np.full(n, 64.0), ys], -1)


def test_ramp():
    assert metrics.ramp(0.0, 0.0, 1.0) == 1.0 and metrics.ramp(1.0, 0.0, 1.0) == 0.0
    assert metrics.ramp(0.5, 1.0, 0.0) == 0.5 and metrics.ramp(2.0, 1.0, 0.0) == 1.0


def test_gravity_accepts_bounces_and_rejects_the_unphysical():
    path = _bounce()
    obj = _object(path)
    assert metrics._gravity(obj, _chain(path), 128) == 1.0
    still = np.repeat(path[:1], F, 0)
    assert metrics._gravity(obj, _chain(still), 128) == 0.0
    steady = np.stack([np.full(F, 64.0), np.linspace(30, 110, F)], -1)  # falls at constant speed
    assert metrics._gravity(obj, _chain(steady), 128) == 0.0
    rising = path[::-1]  # time reversed: bounces gain height, flight decelerates the wrong way at contacts
    assert metrics._gravity(obj, _chain(rising), 128) < 0.5
    shuffled = path[np.random.default_rng(0).permutation(F)]
    assert metrics._gravity(obj, _chain(shuffled), 128) < 0.3


def test_direction_is_judged_against_the_worlds_displacement():
    right = np.stack([np.linspace(20, 100, F), np.full(F, 64.0)], -1)
    obj = _object(right, event="move")
    assert metrics._direction(obj, _chain(right), 128) == 1.0
    assert metrics._direction(obj, _chain(right[::-1]), 128) == 0.0  # goes left
    assert metrics._direction(obj, _chain(np.repeat(right[:1], F, 0)), 128) == 0.0  # stays put
    up = np.stack([np.full(F, 64.0), np.linspace(100, 20, F)], -1)
    assert metrics._direction(obj, _chain(up), 128) == 0.0  # 90 degrees off


def test_permanence_needs_the_same_object_back_on_its_line():
    path = np.stack([np.linspace(10, 118, F), np.full(F, 60.0)], -1)
    visible = np.where((path[:, 0] > 50) & (path[:, 0] < 78), 0.0, 1.0)
    obj = _object(path, visible, event="pass_behind")
    seen = [f for f in range(F) if visible[f] > 0]
    assert metrics._permanence(obj, _chain(path, seen), 128) == 1.0
    gone = [f for f in seen if path[f, 0] < 50]
    assert metrics._permanence(obj, _chain(path, gone), 128) == 0.0
    near_side = path.copy()
    near_side[path[:, 0] >= 78] = (40, 60)  # comes back out where it went in
    assert metrics._permanence(obj, _chain(near_side, seen), 128) == 0.0
    off_line = path.copy()
    off_line[path[:, 0] >= 78, 1] += 50  # comes out far below its line
    assert metrics._permanence(obj, _chain(off_line, seen), 128) == 0.0


def test_flicker_separates_smooth_change_from_noise_flashes_and_disorder():
    rng = np.random.default_rng(0)
    texture = np.clip(rng.normal(128, 40, (160, 200, 3)), 0, 255).astype(np.uint8)
    texture = np.ascontiguousarray(np.repeat(np.repeat(texture[::4, ::4], 4, 0), 4, 1)[:160, :200])
    pan = np.stack([texture[16:144, 2 * t : 2 * t + 128] for t in range(F)])  # the camera pans 2 px a frame
    residual, jitter = metrics.flicker(pan)
    assert residual < 1.0 and jitter < 1.0
    dusk = np.stack([(pan[0] * (1 - 0.4 * t / F)).astype(np.uint8) for t in range(F)])  # light fades
    assert max(metrics.flicker(dusk)) < 2.0
    noisy = np.clip(pan.astype(np.float32) + rng.normal(0, 15, pan.shape), 0, 255).astype(np.uint8)
    assert metrics.flicker(noisy)[0] > 5.0
    flash = pan.copy()
    flash[10] = np.clip(flash[10].astype(np.int16) + 40, 0, 255).astype(np.uint8)
    assert metrics.flicker(flash)[1] > 30.0
    assert metrics.flicker(pan[rng.permutation(F)])[0] > 5.0
