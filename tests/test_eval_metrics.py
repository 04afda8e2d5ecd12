"""Each measurement on hand-made paths: what is physical, on course or continued scores 1, what is not
scores 0."""

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
    dets = []
    for f in frames:
        x, y = float(path[f][0]), float(path[f][1])
        box = (int(x) - 8, int(y) - 8, int(x) + 8, int(y) + 8)
        dets.append(Detection(int(f), x, y, box, 300.0, "red", "ball"))
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
    rng = np.random.default_rng(0)
    shuffled = [metrics._gravity(obj, _chain(path[rng.permutation(F)]), 128) for _ in range(8)]
    assert np.mean(shuffled) < 0.3, shuffled


def test_direction_is_judged_in_the_scene_with_the_pan_taken_out():
    right = np.stack([np.linspace(20, 100, F), np.full(F, 64.0)], -1)
    want, frames, still = np.array([1.0, 0.0]), list(range(F)), np.zeros((F, 2))
    assert metrics._direction(want, _chain(right), frames, still, 128) == 1.0
    assert metrics._direction(want, _chain(right[::-1]), frames, still, 128) == 0.0  # goes left
    assert metrics._direction(want, _chain(np.repeat(right[:1], F, 0)), frames, still, 128) == 0.0  # stays
    up = np.stack([np.full(F, 64.0), np.linspace(100, 20, F)], -1)
    assert metrics._direction(want, _chain(up), frames, still, 128) == 0.0  # 90 degrees off
    # The camera pans right faster than the object moves: on screen it drifts left, in the scene it goes right.
    pan = np.stack([-np.linspace(0, 120, F), np.zeros(F)], -1)
    on_screen = right + pan
    assert on_screen[-1, 0] < on_screen[0, 0]
    assert metrics._direction(want, _chain(on_screen), frames, pan, 128) == 1.0


def test_direction_is_scored_only_where_the_prompt_fixes_the_way():
    """A rendered ball rolling its seed's way and the mirror of that clip (the other way): with the way
    open both are right and direction does not apply; with a stated way the mirror scores 0."""
    from haneul.eval.benchmark import evaluate_video
    from haneul.eval.corrupt import mirror
    from haneul.world import render_clip

    open_way = "a red ball rolls on green grass, static camera"
    clip = render_clip(open_way, 128, 128, 16, 8.0, 3)
    for frames in (clip.frames, mirror(clip.frames)):
        scores = evaluate_video(frames, open_way, 3, 8.0).scores
        assert scores["direction"] is None and scores["overall"] >= 0.95, scores
    # No ball at all (black frames): a loss for colour and kind, still nothing to say about its way.
    empty = evaluate_video(np.zeros_like(clip.frames), open_way, 3, 8.0).scores
    assert empty["colour"] == 0.0 and empty["direction"] is None
    stated = f"a red ball rolls to the {clip.spec.objects[0].direction} on green grass, static camera"
    assert evaluate_video(clip.frames, stated, 3, 8.0).scores["direction"] == 1.0
    assert evaluate_video(mirror(clip.frames), stated, 3, 8.0).scores["direction"] == 0.0


def test_direction_applies_to_stated_implied_and_partnered_ways():
    from haneul.eval.expected import stated_dimensions
    from haneul.world import parse_prompt

    def applies(prompt: str) -> bool:
        return "direction" in stated_dimensions(parse_prompt(prompt))

    assert not applies("a red ball rolls")
    assert not applies("a blue star passes behind a tree")
    assert applies("a red ball moves to the left")
    assert applies("a red ball enters from the left")  # implied: it moves right
    assert applies("a red ball collides with a blue box")  # closes in on its partner
    assert applies("a black ball follows a green box")  # goes the leader's way


def test_permanence_needs_the_same_object_back_on_its_line():
    path = np.stack([np.linspace(10, 118, F), np.full(F, 60.0)], -1)
    hidden = (path[:, 0] > 50) & (path[:, 0] < 78)
    seen = [f for f in range(F) if not hidden[f]]
    right, size = np.array([1.0, 0.0]), (128, 128)
    assert metrics._permanence(_chain(path, seen), right, 128, size, F) == 1.0
    gone = [f for f in seen if path[f, 0] < 50]  # vanishes in view and never returns
    assert metrics._permanence(_chain(path, gone), right, 128, size, F) == 0.0
    near_side = path.copy()
    near_side[path[:, 0] >= 78] = (40, 60)  # comes back out where it went in
    assert metrics._permanence(_chain(near_side, seen), right, 128, size, F) == 0.0
    off_line = path.copy()
    off_line[path[:, 0] >= 78, 1] += 50  # comes out far below its line
    assert metrics._permanence(_chain(off_line, seen), right, 128, size, F) == 0.0
    assert metrics._permanence(_chain(path), right, 128, size, F) == 1.0  # never hidden: nothing lost
