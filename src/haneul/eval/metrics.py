"""The benchmark's dimensions, each a score in [0, 1], or None when the prompt gives it nothing to check.

Each score turns one measured quantity into [0, 1] with `ramp(value, good, bad)`: 1 at or beyond `good`,
0 at or beyond `bad`, linear between. The thresholds sit between what world ground truth measures and what a
broken video measures (tests/test_eval_validity.py renders both). Distances are in units of the frame's
shorter side, so scores do not depend on the resolution.

- colour, kind: share of an object's detections with the stated colour / kind (missing object: 0);
  kinds only from views where the whole outline shows.
- count: objects seen together (in at least three frames) vs objects the world shows together.
- relation: share of the opening frames where "a left_of b" (viewer's left) etc. holds.
- direction: angle between the observed displacement and the world's, over the stretch where the world's
  object moves farthest from where it is first seen (before a collision turns it back).
- gravity: parabola check between bounces: second differences of height are the world's gravity in
  flight, negative only at the floor (bounces), and bounce heights never grow.
- permanence: an object that goes behind the occluder comes out with its colour and kind, on the path
  its motion before the occluder predicts.
- temporal: flicker (backdrop pixels that jump away from both neighbouring frames, frame brightness
  jitter) and identity (no teleporting, no blinking out in full view).
- background: share of sampled frames that the stated backdrop explains about as well as any other, and
  all its parts (sky and ground) seen somewhere.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from haneul.eval.detect import SceneLight
from haneul.eval.expected import TRAVEL_EVENTS, Expectation, ExpectedObject
from haneul.eval.match import Chain, Match

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
        # Kinds are read from whole, unhidden outlines: cut by the border or the occluder they mislead.
        whole = [
            d.kind for d in chain.dets if not d.partial and d.kind != "unknown" and o.visible[d.frame] > 0.95
        ]
        scores.append(_share(whole, o.kind) if whole else None)  # never in full view: cannot tell
    score = _mean(scores)
    return None if score is None else ramp(score, 0.8, 0.3)


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


def direction_score(exp: Expectation, match: Match) -> float | None:
    scores = []
    for o in _stated(exp):
        if o.event not in TRAVEL_EVENTS:
            continue
        chain = match.assigned[o.index]
        if chain is None:
            scores.append(0.0)
            continue
        scores.append(_direction(o, chain, exp.short_side))
    return _mean(scores) if scores else None


def _direction(o: ExpectedObject, chain: Chain, short: float) -> float | None:
    frames, xy = chain.frames, chain.xy
    if len(frames) < 2:
        return 0.0
    f0 = frames[0]
    reach = np.hypot(*(o.path[frames] - o.path[f0]).T)  # how far the world's object is from its start
    k = int(np.argmax(reach))
    want = o.path[frames[k]] - o.path[f0]
    if np.hypot(*want) < 0.08 * short:
        return None  # the world's object barely moves in view (a pan follows it): nothing to judge
    got = _smoothed(xy, k) - _smoothed(xy, 0)
    if np.hypot(*got) < 1e-6:
        return 0.0
    cos = float(np.dot(got, want) / (np.hypot(*got) * np.hypot(*want)))
    angle = math.degrees(math.acos(max(-1.0, min(1.0, cos))))
    moved = np.hypot(*got) / np.hypot(*want)
    return ramp(angle, 30.0, 90.0) * ramp(moved, 0.35, 0.1)


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

    Every three consecutive frames are one of: in flight (y'' near the world's g), a bounce (y'' < 0
    around a lowest point), or at rest (y'' near 0: lying on the floor, or carried by a camera pan).
    Anything else (rising faster, stopping in mid-air, jumping about) is unphysical. A fall at constant
    speed is all "rest", so enough in-flight triples are required too.
    """
    g_d2, _ = _second_differences(np.arange(len(o.path)), o.path[:, 1])
    flight_gt = g_d2[g_d2 > 0.05]
    if len(flight_gt) == 0:
        return 0.0
    g = float(np.median(flight_gt))  # the world's gravity in pixels per frame^2 at this size, fps, zoom
    frames, ys = chain.frames, chain.xy[:, 1]
    travel = ramp(np.ptp(ys) / max(np.ptp(o.path[:, 1]), 1e-6), 0.5, 0.2)
    d2, contact = _second_differences(frames, ys)
    if len(d2) == 0:
        return 0.0
    resting = np.abs(d2) < 0.25 * g
    in_flight = (d2 > 0.4 * g) & (d2 < 2.5 * g)
    bouncing = (d2 < 0) & contact
    checked = ~resting
    if not checked.any():
        return 0.0
    physical = float((in_flight | bouncing)[checked].mean())
    enough_flight = ramp(in_flight.sum() / len(flight_gt), 0.5, 0.2)
    tol = max(0.02 * short, 1.0)
    return travel * enough_flight * ramp(physical, 0.85, 0.4) * _energy_loss(frames, ys, tol)


def _energy_loss(frames: np.ndarray, ys: np.ndarray, tol: float) -> float:
    """1 if every bounce peaks no higher than the one before (energy is lost), else the share that do."""
    peaks = [i for i in range(1, len(ys) - 1) if ys[i] < ys[i - 1] and ys[i] <= ys[i + 1]]
    heights = ys.max() - ys[peaks]
    if len(heights) < 2:
        return 1.0
    ok = heights[1:] <= heights[:-1] + tol
    return float(ok.mean())


def permanence_score(exp: Expectation, match: Match) -> float | None:
    scores = []
    for o in _stated(exp):
        if o.event != "pass_behind":
            continue
        chain = match.assigned[o.index]
        scores.append(0.0 if chain is None else _permanence(o, chain, exp.short_side))
    return _mean(scores) if scores else None


def _hidden_run(visible: np.ndarray) -> tuple[int, int] | None:
    """First and last frame of the first stretch hidden between two stretches in view (behind the occluder,
    not outside the frame before entering or after leaving)."""
    shown = np.nonzero(visible > 0.5)[0]
    if len(shown) == 0:
        return None
    for f in range(shown[0], shown[-1]):
        if visible[f] < 0.2:
            end = f
            while visible[end + 1] < 0.2:
                end += 1
            return f, end
    return None


def _permanence(o: ExpectedObject, chain: Chain, short: float) -> float | None:
    run = _hidden_run(o.visible)
    if run is None:
        return None  # the world's object never goes fully behind here: nothing to check
    start, end = run
    dets = chain.dets
    before = [d for d in dets if d.frame < start]
    after = [d for d in dets if d.frame > end]
    if not before or not after:
        return 0.0
    # Identity: what comes out whole has the kind that went in whole (colour is the chain's already).
    whole_before = [d.kind for d in before if not d.partial and o.visible[d.frame] > 0.95]
    whole_after = [d.kind for d in after if not d.partial and o.visible[d.frame] > 0.95]
    same_kind = 1.0
    if whole_before and whole_after:
        went_in = max(set(whole_before), key=whole_before.count)
        same_kind = ramp(_share(whole_after, went_in), 0.6, 0.2)
    heading = o.path[min(end + 1, len(o.path) - 1)] - o.path[max(start - 1, 0)]
    return same_kind * _continues_path(before, after, heading, short)


def _continues_path(before: list, after: list, heading: np.ndarray, short: float) -> float:
    """Whether the first sighting after the occluder continues the path seen before it.

    Timing-free (a model may move faster or slower than the world): the object must come out on the
    far side, near the line through where it went in along the world's heading. (Centres of half-hidden
    views are biased, so the line's direction is the world's, not one fitted to those centres.)
    """
    start, entry, exit_ = before[0], before[-1], after[0]
    travel = np.array([entry.x - start.x, entry.y - start.y])
    step = np.array([exit_.x - entry.x, exit_.y - entry.y])
    if np.hypot(*travel) < 0.05 * short:  # it was not moving: it should be where it was
        return ramp(np.hypot(*step) / short, 0.08, 0.25)
    # The world's line, taken the way the object was seen going (a mirrored clip is still consistent).
    unit = heading / max(np.hypot(*heading), 1e-9) * (1.0 if travel @ heading >= 0 else -1.0)
    if float(step @ unit) <= 0:
        return 0.0  # came back out on the side it went in
    off_line = abs(float(step[0] * unit[1] - step[1] * unit[0])) / short
    return ramp(off_line, 0.08, 0.25)


# --- time -----------------------------------------------------------------------------------------------------------


def flicker(frames: np.ndarray, detections: list[list] | None = None) -> tuple[float, float]:
    """(mean |pixel - median of it and its neighbours in time|, largest jump in frame brightness change),
    in grey levels, over the backdrop.

    Smooth change (pans, zooms, dusk) leaves a backdrop pixel between its neighbours, so the median is
    the pixel itself; noise, flashes and frames out of order do not. Neighbours are first warped onto the
    frame by the camera's pan and zoom measured between them, so a moving textured backdrop is smooth too.
    Pixels of detected objects (in any of the three frames) are left out: a fast object legitimately
    covers a pixel for one frame only; objects are judged by their tracks (`_identity`).
    Brightness change is the median pixel change (objects are a minority), robust to big objects.
    """
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float32)
    if len(grey) < 3:
        return 0.0, 0.0
    moves = [_camera_move(grey[t], grey[t + 1]) for t in range(len(grey) - 1)]
    size = grey.shape[1:][::-1]
    residuals = []
    for t in range(1, len(grey) - 1):
        prev = cv2.warpAffine(grey[t - 1], moves[t - 1], size, borderMode=cv2.BORDER_REPLICATE)
        nxt = cv2.warpAffine(
            grey[t + 1], cv2.invertAffineTransform(moves[t]), size, borderMode=cv2.BORDER_REPLICATE
        )
        cur = grey[t]
        med = np.maximum(np.minimum(prev, cur), np.minimum(np.maximum(prev, cur), nxt))
        keep = np.zeros(cur.shape, bool)
        keep[4:-4, 4:-4] = True  # borders: pixels moved in by the warp
        for dets in detections[t - 1 : t + 2] if detections else []:
            for d in dets:
                x0, y0, x1, y1 = d.box
                keep[max(y0 - 2, 0) : y1 + 2, max(x0 - 2, 0) : x1 + 2] = False
        residuals.append(float(np.abs(cur - med)[keep].mean()) if keep.any() else 0.0)
    change = np.median((grey[1:] - grey[:-1]).reshape(len(grey) - 1, -1), axis=1)
    return float(np.mean(residuals)), float(np.abs(np.diff(change)).max())


ZOOM_STEPS = (0.985, 0.99, 1.0, 1.01, 1.015)  # the world zooms by up to 1.6% a frame at 8 fps


def _camera_move(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 warp taking frame a onto frame b: a pan (phase correlation) and a zoom about the centre.

    A move counts only if it aligns most pixels better than no move (medians: moving objects are a
    minority of the frame; the phase-correlation peak may be one of them). Candidates are compared at
    half resolution, which is plenty for a choice between a few moves and four times cheaper.
    """
    h, w = a.shape
    window = cv2.createHanningWindow((w, h), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(a.copy(), b.copy(), window)  # copies: OpenCV 5 windows them in place
    if math.hypot(dx, dy) > 0.06 * min(h, w):  # the world pans a few pixels a frame; more is an object
        dx, dy = 0.0, 0.0
    small_a = cv2.resize(a, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small_b = cv2.resize(b, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    best, best_err = np.float32([[1, 0, 0], [0, 1, 0]]), float(np.median(np.abs(small_b - small_a)))
    shifts = ((dx, dy), (0.0, 0.0)) if (dx, dy) != (0.0, 0.0) else ((0.0, 0.0),)
    for zoom in ZOOM_STEPS:
        for shift in shifts:
            if zoom == 1.0 and shift == (0.0, 0.0):
                continue
            m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
            m[:, 2] += shift
            half = m.copy()
            half[:, 2] /= 2  # the same move in half-resolution pixels
            moved = cv2.warpAffine(small_a, half, (w // 2, h // 2), borderMode=cv2.BORDER_REPLICATE)
            err = float(np.median(np.abs(small_b - moved)))
            if err < 0.85 * best_err:
                best, best_err = m.astype(np.float32), err
    return best


def temporal_score(
    exp: Expectation, match: Match, frames: np.ndarray, detections: list[list]
) -> tuple[float, dict]:
    residual, jitter = flicker(frames, detections)
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
    # Blinking: missing for a frame or two while the world's object is in full view on both sides.
    seen = set(frames.tolist())
    blinks = sum(
        1
        for f in range(frames[0] + 1, frames[-1])
        if f not in seen and (f - 1 in seen or f + 1 in seen) and o.visible[f] > 0.95
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
