"""The benchmark's dimensions, each a score in [0, 1], or None when the prompt gives it nothing to check.

Scores use what the prompt states and what physics requires, not the seed's unstated choices (where a
ball starts, how fast it goes): a model may make those differently and still be right. The world's
clip for the prompt (expected.py) gives scales only: its gravity in pixels, its fastest step, whether
its object comes back out from behind the occluder within the clip.

Each score turns one measured quantity into [0, 1] with `ramp(value, good, bad)`: 1 at or beyond `good`,
0 at or beyond `bad`, linear between. The thresholds sit between what world ground truth measures and what a
broken video measures (tests/test_eval_validity.py renders both). Distances are in units of the frame's
shorter side, so scores do not depend on the resolution.

- colour, kind: share of an object's detections with the stated colour / kind (missing object: 0);
  kinds only from views where the whole outline shows.
- count: objects seen together (in at least three frames) vs objects the world shows together.
- relation: share of the opening frames where "a left_of b" (viewer's left) etc. holds.
- direction: the stated direction, judged in the scene (the camera's pan, measured on the backdrop, taken
  out); a follower goes the leader's way; colliding objects close the gap between them. Objects whose way
  the prompt leaves open ("a ball rolls") are not scored: the seed's pick is not the only right one.
- gravity: parabola check between bounces: second differences of height are the world's gravity in
  flight, pushed below it only around a lowest point (the floor), and bounce heights never grow.
- permanence: an object that vanishes inside the frame (behind the occluder) comes back, with its colour
  and kind, on the far side of where it went in, along its line.
- temporal: flicker (backdrop pixels that jump away from both neighbouring frames, frame brightness
  jitter) and identity (no teleporting, no blinking out in full view).
- background: share of sampled frames that the stated backdrop explains about as well as any other, and
  all its parts (sky and ground) seen somewhere.
"""

from __future__ import annotations

import math

import numpy as np

from haneul.eval import camera
from haneul.eval.detect import SceneLight
from haneul.eval.expected import Expectation, ExpectedObject, states_direction
from haneul.eval.match import Chain, Match
from haneul.world import vocab

DIMENSIONS = (
    "colour",
    "kind",
    "count",
    "relation",
    "direction",
    "gravity",
    "permanence",
    "temporal",
    "background",
)


def ramp(value: float, good: float, bad: float) -> float:
    """1 at `good`, 0 at `bad`, linear between (either order)."""
    if good == bad:
        return float(value == good)
    u = (value - bad) / (good - bad)
    return float(min(1.0, max(0.0, u)))


def _mean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _stated(exp: Expectation) -> list[ExpectedObject]:
    return [o for o in exp.objects if o.index < len(exp.stated.objects)]


# --- looks ------------------------------------------------------------------------------------------------------


def colour_score(exp: Expectation, match: Match) -> float | None:
    scores = []
    for o in _stated(exp):
        if o.colour is None:
            continue
        chain = match.assigned[o.index]
        scores.append(0.0 if chain is None else _share([d.colour for d in chain.dets], o.colour))
    return ramp(_mean(scores), 0.9, 0.4) if scores else None


def kind_score(exp: Expectation, match: Match) -> float | None:
    scores = []
    for o in _stated(exp):
        if o.kind is None:
            continue
        chain = match.assigned[o.index]
        if chain is None:
            scores.append(0.0)
            continue
        # Kinds are read from whole outlines: cut by the border or the occluder they mislead.
        whole = [d.kind for d in _whole_views(chain)]
        scores.append(_share(whole, o.kind) if whole else None)  # never in full view: cannot tell
    score = _mean(scores)
    return None if score is None else ramp(score, 0.8, 0.3)


def _whole_views(chain: Chain) -> list:
    """Detections that show the whole outline: not cut by the border, not split, big enough to tell,
    and not much smaller than the object around that time (then something hides part of it)."""
    dets = chain.dets
    out = []
    for k, d in enumerate(dets):
        near = max(x.area for x in dets[max(0, k - 2) : k + 3])
        if not d.partial and d.kind != "unknown" and d.area >= 0.85 * near:
            out.append(d)
    return out


def _share(labels: list[str], want: str) -> float:
    return sum(label == want for label in labels) / len(labels) if labels else 0.0


def count_score(exp: Expectation, match: Match, detections: list[list]) -> float | None:
    """Objects seen together vs objects the world shows together: the largest number of detections in
    one frame that holds for at least `COUNT_FRAMES` frames, against the same for the world's objects
    in view. Per-frame counts do not depend on time order or on tracking; the k-th largest ignores a
    stray blob or two, and same-coloured objects that touch for a while."""
    if not _stated(exp):
        return None
    shown = [sum(o["visible"] > 0.05 for o in f["objects"]) for f in exp.truth["frames"]]
    want = _kth_largest(shown) or len(exp.objects)
    seen = _kth_largest([len(d) for d in detections])
    return max(0.0, 1.0 - abs(seen - want) / want)


COUNT_FRAMES = 3


def _kth_largest(values: list[int]) -> int:
    ordered = sorted(values, reverse=True)
    return ordered[min(COUNT_FRAMES, len(ordered)) - 1] if ordered else 0


# --- layout and motion ------------------------------------------------------------------------------------------


def relation_score(exp: Expectation, match: Match) -> float | None:
    """Relations are stated for the start: checked on the first quarter of the frames where both show."""
    scores = []
    for r in exp.stated.relations:
        a, b = match.assigned.get(r.a), match.assigned.get(r.b)
        if a is None or b is None:
            scores.append(0.0)
            continue
        both = sorted(set(a.frames.tolist()) & set(b.frames.tolist()))
        both = both[: max(3, len(both) // 4)]
        if not both:
            scores.append(0.0)
            continue
        holds = [_holds(r.relation, a.at(f), b.at(f)) for f in both]
        scores.append(ramp(float(np.mean(holds)), 0.9, 0.5))
    return _mean(scores) if scores else None


def _holds(relation: str, a, b) -> bool:
    if relation == "left_of":
        return a.x < b.x
    if relation == "right_of":
        return a.x > b.x
    if relation == "above":
        return a.y < b.y
    return a.y > b.y  # below


def direction_score(exp: Expectation, match: Match, pan: np.ndarray) -> float | None:
    """Stated travel: the stated direction (left, up and to the right, ...) judged in the scene's frame
    (the camera's pan, `pan` = the backdrop's shift on screen per frame, is taken out of the motion seen
    on screen); the leader's way for a follower (both on screen, where a pan moves both alike); and for a
    collision, that the two close the gap between
    them (which needs no pan: both slide with it)."""
    scores = []
    for o in _stated(exp):
        # Only a way the prompt fixes is judged, never the seed's own pick ("a ball rolls": either way).
        if not states_direction(exp.stated, o.index):
            continue
        chain = match.assigned[o.index]
        if chain is None:
            scores.append(0.0)
            continue
        said = exp.stated.objects[o.index]
        if said.event in ("collide", "follow"):
            partner = match.assigned.get(said.target)
            if partner is None:
                scores.append(0.0)  # the other object is missing: nothing closes in or leads
            elif said.event == "collide":
                scores.append(_approach(chain, partner))
            else:
                scores.append(_follows(chain, partner))
            continue
        want = np.array(vocab.DIRECTIONS[said.direction])
        scores.append(_direction(want, chain, chain.frames.tolist(), pan, exp.short_side))
    return _mean(scores) if scores else None


def _follows(follower: Chain, leader: Chain) -> float:
    """The follower goes the leader's way, over the frames both show (on screen: a pan moves both alike)."""
    both = sorted(set(follower.frames.tolist()) & set(leader.frames.tolist()))
    if len(both) < 2:
        return 0.0
    got = _at(follower, both[-1]) - _at(follower, both[0])
    want = _at(leader, both[-1]) - _at(leader, both[0])
    if np.hypot(*got) < 1e-6 or np.hypot(*want) < 1e-6:
        return 0.0
    cos = float(np.dot(got, want) / (np.hypot(*got) * np.hypot(*want)))
    angle = math.degrees(math.acos(max(-1.0, min(1.0, cos))))
    return ramp(angle, 30.0, 90.0) * ramp(np.hypot(*got) / np.hypot(*want), 0.35, 0.1)


def _approach(a: Chain, b: Chain) -> float:
    """How much of the gap between two objects closes before they are closest (they collide)."""
    both = sorted(set(a.frames.tolist()) & set(b.frames.tolist()))
    if len(both) < 2:
        return 0.0
    gaps = []
    for f in both:
        da, db = a.at(f), b.at(f)
        # edge to edge: the centres of two touching objects are still apart
        half = (da.box[2] - da.box[0] + db.box[2] - db.box[0]) / 2
        gaps.append(max(0.0, math.dist((da.x, da.y), (db.x, db.y)) - half))
    start = gaps[0]
    if start < 1.0:
        return 1.0 if len(gaps) > 1 else 0.0  # already touching when first seen together
    return ramp((start - min(gaps)) / start, 0.7, 0.2)


def _at(chain: Chain, frame: int) -> np.ndarray:
    d = chain.at(frame)
    return np.array([d.x, d.y])


def _direction(want: np.ndarray, chain: Chain, frames: list[int], pan: np.ndarray, short: float) -> float:
    """Angle between the wanted heading and the displacement over `frames` (pan removed); it must also
    move a tenth of the frame at least."""
    if len(frames) < 2:
        return 0.0
    xy = np.array([_at(chain, f) - pan[f] for f in frames])
    got = _smoothed(xy, len(xy) - 1) - _smoothed(xy, 0)
    if np.hypot(*got) < 1e-6 or np.hypot(*want) < 1e-6:
        return 0.0
    cos = float(np.dot(got, want) / (np.hypot(*got) * np.hypot(*want)))
    angle = math.degrees(math.acos(max(-1.0, min(1.0, cos))))
    return ramp(angle, 30.0, 90.0) * ramp(np.hypot(*got) / short, 0.1, 0.03)


def _smoothed(xy: np.ndarray, k: int) -> np.ndarray:
    """Position k averaged with its neighbours, so one jittery centre does not decide a direction."""
    return xy[max(0, k - 1) : k + 2].mean(0) if 0 < k < len(xy) - 1 else xy[k]


# --- physics ------------------------------------------------------------------------------------------------------


def gravity_score(exp: Expectation, match: Match) -> float | None:
    scores = []
    for o in _stated(exp):
        if o.event != "bounce":
            continue
        chain = match.assigned[o.index]
        scores.append(0.0 if chain is None else _gravity(o, chain, exp.short_side))
    return _mean(scores) if scores else None


def _consecutive_heights(frames: np.ndarray, ys: np.ndarray) -> list[np.ndarray]:
    """Runs of heights at consecutive frames (a missed frame splits the run)."""
    runs, start = [], 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i] != frames[i - 1] + 1:
            runs.append(ys[start:i])
            start = i
    return runs


def _second_differences(frames: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(second difference of y, whether the triple holds a lowest point: y no smaller than both its
    neighbours, where a bounce touches the floor) for every three consecutive frames."""
    d2, contact = [], []
    for run in _consecutive_heights(frames, ys):
        low = np.zeros(len(run), dtype=bool)
        low[1:-1] = (run[1:-1] >= run[:-2]) & (run[1:-1] >= run[2:])
        for i in range(1, len(run) - 1):
            d2.append(run[i - 1] - 2 * run[i] + run[i + 1])
            contact.append(bool(low[i - 1 : i + 2].any()))
    return np.array(d2), np.array(contact, dtype=bool)


def _gravity(o: ExpectedObject, chain: Chain, short: float) -> float:
    """Bounce physics on heights y (pixels, down): free flight is a parabola, so y'' = g between bounces.

    Every three consecutive frames are one of: in flight (y'' near the world's g), a bounce (y'' below g
    around a lowest point: the floor's push), or at rest (y'' near 0: lying on the floor, or carried by a camera pan).
    Anything else (rising faster, stopping in mid-air, jumping about) is unphysical. A fall at constant
    speed is all "rest", so enough in-flight triples are required too.
    """
    g_d2, _ = _second_differences(np.arange(len(o.path)), o.path[:, 1])
    flight_gt = g_d2[g_d2 > 0.05]
    if len(flight_gt) == 0:
        return 0.0
    g = float(np.median(flight_gt))  # the world's gravity in pixels per frame^2 at this size, fps, zoom
    frames, ys = chain.frames, chain.xy[:, 1]
    travel = ramp(np.ptp(ys) / short, 0.15, 0.05)  # the world drops things from a third of the way up
    d2, contact = _second_differences(frames, ys)
    if len(d2) == 0:
        return 0.0
    resting = np.abs(d2) < 0.25 * g
    in_flight = (d2 > 0.4 * g) & (d2 < 2.5 * g)
    bouncing = contact & (d2 < 0.4 * g)  # a floor contact inside the triple pushes y'' below g
    checked = ~resting
    if not checked.any():
        return 0.0
    physical = float((in_flight | bouncing)[checked].mean())
    enough_flight = ramp(in_flight.sum(), min(3, len(flight_gt)), 0)
    tol = max(0.02 * short, 1.0)
    return travel * enough_flight * ramp(physical, 0.9, 0.6) * _energy_loss(frames, ys, tol)


def _energy_loss(frames: np.ndarray, ys: np.ndarray, tol: float) -> float:
    """1 if every bounce peaks no higher than the one before (energy is lost), else the share that do."""
    peaks = [i for i in range(1, len(ys) - 1) if ys[i] < ys[i - 1] and ys[i] <= ys[i + 1]]
    heights = ys.max() - ys[peaks]
    if len(heights) < 2:
        return 1.0
    ok = heights[1:] <= heights[:-1] + tol
    return float(ok.mean())


def permanence_score(
    exp: Expectation, match: Match, frame_size: tuple[int, int], num_frames: int
) -> float | None:
    scores = []
    for o in _stated(exp):
        if o.event != "pass_behind":
            continue
        chain = match.assigned[o.index]
        said = exp.stated.objects[o.index]
        # The line it should come out along: the stated direction, else the world's (its orientation
        # only: which way along it is taken from the motion seen).
        heading = np.array(vocab.DIRECTIONS[said.direction]) if said.direction else o.path[-1] - o.path[0]
        if not _hides_and_returns(o.visible):
            continue  # in the world's own clip it does not come back into view in time: nothing to ask
        if chain is None:
            scores.append(0.0)
            continue
        scores.append(_permanence(chain, heading, exp.short_side, frame_size, num_frames))
    return _mean(scores) if scores else None


def _hides_and_returns(visible: np.ndarray) -> bool:
    """True if the world's object is hidden for a while between two stretches in view (behind the
    occluder, not outside the frame before entering or after leaving)."""
    shown = np.nonzero(visible > 0.5)[0]
    return len(shown) > 0 and bool((visible[shown[0] : shown[-1]] < 0.2).any())


def _permanence(
    chain: Chain, heading: np.ndarray | None, short: float, frame_size: tuple[int, int], num_frames: int
) -> float | None:
    """Timing-free: the object's own disappearance decides. If it vanishes inside the frame (not through
    the border) and never shows again, permanence fails; if it comes back, it must come back whole with
    its kind, on the far side, near the line it went in along. Seen all along: nothing vanished (1)."""
    dets = chain.dets
    gaps = [k for k in range(1, len(dets)) if dets[k].frame - dets[k - 1].frame >= 2]
    if not gaps:
        last = dets[-1]
        if not _inside(last, frame_size):
            return None  # it left through the border: not a question of permanence
        return 0.0 if last.frame < num_frames - 2 else 1.0  # vanished in view, or seen to the end
    k = max(gaps, key=lambda g: dets[g].frame - dets[g - 1].frame)  # the longest absence
    before, after = dets[:k], dets[k:]
    whole_before = [d.kind for d in _whole_views(Chain([_track(before)]))]
    whole_after = [d.kind for d in _whole_views(Chain([_track(after)]))]
    same_kind = 1.0
    if whole_before and whole_after:
        went_in = max(set(whole_before), key=whole_before.count)
        same_kind = ramp(_share(whole_after, went_in), 0.6, 0.2)
    return same_kind * _continues_path(before, after, heading, short)


def _inside(d, frame_size: tuple[int, int]) -> bool:
    """Away from the frame's border: it did not just leave the view."""
    w, h = frame_size
    x0, y0, x1, y1 = d.box
    return x0 > 1 and y0 > 1 and x1 < w - 1 and y1 < h - 1


def _track(dets: list):
    from haneul.eval.track import Track

    return Track(-1, list(dets))


def _continues_path(before: list, after: list, heading: np.ndarray | None, short: float) -> float:
    """Whether the first sighting after the absence continues the path seen before it.

    Timing-free (a model may move faster or slower than the world): the object must come out on the
    far side, near the line through where it went in, along the stated heading (or the one it was seen
    going: centres of half-hidden views are biased, so a stated heading is better when there is one).
    """
    start, entry, exit_ = before[0], before[-1], after[0]
    travel = np.array([entry.x - start.x, entry.y - start.y])
    step = np.array([exit_.x - entry.x, exit_.y - entry.y])
    if np.hypot(*travel) < 0.05 * short:  # it was not moving: it should be where it was
        return ramp(np.hypot(*step) / short, 0.08, 0.25)
    line = heading if heading is not None else travel
    # The line taken the way the object was seen going (a mirrored clip is still consistent).
    unit = line / max(np.hypot(*line), 1e-9) * (1.0 if travel @ line >= 0 else -1.0)
    if float(step @ unit) <= 0:
        return 0.0  # came back out on the side it went in
    off_line = abs(float(step[0] * unit[1] - step[1] * unit[0])) / short
    return ramp(off_line, 0.08, 0.25)


# --- time -----------------------------------------------------------------------------------------------------------


def temporal_score(
    exp: Expectation, match: Match, frames: np.ndarray, detections: list[list], moves: list[np.ndarray]
) -> tuple[float, dict]:
    residual, jitter = camera.flicker(frames, detections, moves)
    pixels = min(ramp(residual, 1.5, 5.0), ramp(jitter, 3.0, 12.0))
    identity = _mean([_identity(o, match.assigned[o.index], exp.short_side) for o in exp.objects])
    score = pixels if identity is None else min(pixels, identity)
    return score, {"residual": residual, "jitter": jitter, "pixels": pixels, "identity": identity}


def _identity(o: ExpectedObject, chain: Chain | None, short: float) -> float | None:
    """No teleporting (steps beyond the world's own fastest step), no blinking out in full view."""
    if chain is None:
        return None  # a missing object is the other dimensions' loss, not a flicker
    frames, xy = chain.frames, chain.xy
    steps = np.hypot(*np.diff(xy, axis=0).T)
    gaps = np.diff(frames)
    world = np.hypot(*np.diff(o.path, axis=0).T)
    limit = 1.5 * (world.max() if len(world) else 0.0) + 0.1 * short
    jumps = float((steps > limit * gaps).mean()) if len(steps) else 0.0
    # Blinking: missing for a frame or two while in full view just before and just after (an object
    # going behind something shrinks first and grows back after).
    dets = chain.dets
    typical = float(np.median([d.area for d in dets]))
    blinks = sum(
        dets[k].frame - dets[k - 1].frame - 1
        for k in range(1, len(dets))
        if 2 <= dets[k].frame - dets[k - 1].frame <= 3
        and all(not d.partial and d.area >= 0.9 * typical for d in (dets[k - 1], dets[k]))
    )
    blink_rate = blinks / max(len(frames), 1)
    return min(ramp(jumps, 0.05, 0.3), ramp(blink_rate, 0.05, 0.3))


def background_score(exp: Expectation, light: SceneLight) -> float | None:
    """Share of sampled frames the stated backdrop explains about as well as any; 0 if part of it (the
    ground of "grass", say) never shows at all."""
    want = exp.stated.background
    if want is None:
        return None
    if not light.complete[want]:
        return 0.0
    return ramp(_share([want if want in c else "" for c in light.consistent], want), 0.8, 0.3)
