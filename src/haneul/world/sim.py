"""Physics of a world scene: a complete `SceneSpec` becomes per-frame object tracks, camera and light.

Everything is simulated in world units (1 unit = the frame's shorter side at zoom 1, x right, y down) at the
clip's own fps, then rendered through the camera (render.py). Motions are closed-form where physics allows,
so ground truth is exact at any fps:
- gravity: y(t) = y0 + v t + g t^2 / 2 between bounces; each bounce is found exactly and keeps
  `RESTITUTION` of the speed (energy loss 1 - e^2), until the object rests;
- collisions: two bodies on one line, masses proportional to their area, exchange momentum with
  restitution `COLLISION_RESTITUTION` at the exact time of contact (momentum is conserved);
- rolling: the angle follows the distance travelled (no slip), angle = -distance / radius;
- following: the follower steers toward the leader at its own speed, keeping a gap (8 sub-steps a frame).
Speeds and positions actually used are written back into `Scene.spec`, so captions are true to the motion.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from haneul.world import shapes, vocab
from haneul.world.spec import SceneSpec

GRAVITY = 6.0  # units / s^2 (a 0.6-unit drop lands in 0.45 s)
RESTITUTION = 0.75  # bounce speed kept; each bounce keeps 56% of the energy
REST_SPEED = 0.25  # below this bounce speed (units/s) the object comes to rest
COLLISION_RESTITUTION = 0.9
SPIN_RATES = {"slow": 90.0, "medium": 180.0, "fast": 360.0}  # degrees per second, clockwise
GROW_TO = {"slow": 1.4, "medium": 1.7, "fast": 2.0}
SHRINK_TO = {"slow": 0.7, "medium": 0.5, "fast": 0.35}


@dataclass
class Track:
    """One object over the clip, in world units."""

    pos: np.ndarray  # (F, 2) centre
    vel: np.ndarray  # (F, 2) units / s
    angle: np.ndarray  # (F,) degrees, counterclockwise as the viewer sees it
    scale: np.ndarray  # (F,) multiplies the object's size
    mirror: bool = False  # cars and characters face their direction of travel (drawn facing right)
    walk: bool = False  # characters swing their legs while moving


@dataclass
class Occluder:
    kind: str  # vocab.OCCLUDERS
    x: float  # centre, world units
    y: float
    half_w: float
    half_h: float

    @property
    def hide_y(self) -> float:
        """The height at which an object passing behind is fully hidden (the crown of a tree)."""
        return self.y - self.half_h + self.half_w if self.kind == "tree" else self.y


@dataclass
class Scene:
    """A simulated scene, ready to render. `spec` is the effective spec (true speeds and positions)."""

    spec: SceneSpec
    width: int
    height: int
    num_frames: int
    fps: float
    seed: int
    tracks: list[Track]
    sizes: list[float]  # half-extent of each object in units at scale 1
    occluder: Occluder | None
    camera: np.ndarray  # (F, 3): view centre x, y in units, zoom
    light: np.ndarray  # (F, 3) RGB gain
    moments: list[tuple[float, int, str]] = field(
        default_factory=list
    )  # (time, object, what): bounces, contact
    truth: dict | None = None  # set by render.render_scene

    @property
    def view(self) -> tuple[float, float]:
        s = min(self.width, self.height)
        return self.width / s, self.height / s

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.num_frames) / self.fps


def simulate(spec: SceneSpec, width: int, height: int, num_frames: int, fps: float, seed: int) -> Scene:
    """Simulate a complete spec. The seed jitters positions so that equal specs still differ a little."""
    if not spec.is_complete():
        raise ValueError("simulate needs a complete spec; call complete_spec first")
    rng = np.random.default_rng(seed)
    spec = copy.deepcopy(spec)
    s = min(width, height)
    vw, vh = width / s, height / s
    t = np.arange(num_frames) / fps
    duration = max((num_frames - 1) / fps, 0.5)  # plans motion; a one-frame image still gets a sensible pose
    sizes = [vocab.SIZES[o.size] for o in spec.objects]
    starts = _start_positions(spec, sizes, vw, vh, rng)
    scene = Scene(spec, width, height, num_frames, fps, seed, [None] * len(sizes), sizes, None, None, None)
    scene.occluder = _occluder(spec, sizes, vw, vh, rng)
    for i in _leaders_first(spec):
        o = spec.objects[i]
        if o.event == "collide":
            if scene.tracks[i] is None:
                _collide(scene, i, o.target, starts, t, duration, vw, vh, rng)
            continue
        scene.tracks[i] = _track(scene, i, starts[i], t, duration, vw, vh)
    _separate_starts(scene, vw)
    scene.camera = _camera(spec.camera, t, duration, vw, vh)
    scene.light = _light(spec.light, t, duration)
    _write_back(scene, duration, vw, vh)
    return scene


def _leaders_first(spec: SceneSpec) -> list[int]:
    """Object indices in simulation order: a follower after its leader, also when the leader follows
    someone too (a chain: the ball follows the box, which follows the star)."""
    objs = spec.objects

    def depth(i: int) -> int:  # how many followers deep object i is
        seen = []
        while objs[i].event == "follow":
            if i in seen:
                raise ValueError(
                    f"objects {seen} follow each other in a circle; complete_spec breaks circles"
                )
            seen.append(i)
            i = objs[i].target
        return len(seen)

    return sorted(range(len(objs)), key=depth)  # stable: otherwise the spec's order


# --- layout --------------------------------------------------------------------------------------------------


def _start_positions(
    spec: SceneSpec, sizes: list[float], vw: float, vh: float, rng: np.random.Generator
) -> np.ndarray:
    pos = np.zeros((len(sizes), 2))
    for i, o in enumerate(spec.objects):
        fx, fy = vocab.POSITIONS[o.position]
        r = sizes[i] * 1.05
        x = fx * vw + rng.uniform(-0.05, 0.05)
        y = fy * vh + rng.uniform(-0.05, 0.05)
        pos[i] = (np.clip(x, r, vw - r), np.clip(y, r, vh * vocab.FLOOR_Y - r))
    for r in spec.relations:  # make the stated relation hold with a margin
        a, b = r.a, r.b
        axis, sign = {"left_of": (0, -1), "right_of": (0, 1), "above": (1, -1), "below": (1, 1)}[r.relation]
        gap = sizes[a] + sizes[b] + 0.04
        if sign * (pos[a, axis] - pos[b, axis]) < gap:
            mid = (pos[a, axis] + pos[b, axis]) / 2
            pos[a, axis] = mid + sign * gap / 2
            pos[b, axis] = mid - sign * gap / 2
    for i in range(len(sizes)):  # nudge overlapping starts apart sideways
        for j in range(i):
            d = pos[i] - pos[j]
            need = sizes[i] + sizes[j] + 0.02
            if np.hypot(*d) < need and not _related(spec, i, j):
                pos[i, 1] += (need - abs(d[1])) * (1 if pos[i, 1] < vh / 2 else -1)
    return pos


FREE_EVENTS = (
    "still",
    "move",
    "roll",
    "rotate",
    "grow",
    "shrink",
    "bounce",
    "exit",
)  # placed by position alone


def _separate_starts(scene: Scene, vw: float) -> None:
    """Shift an object sideways (whole track) if it starts on top of another, e.g. two rollers on the ground."""
    spec = scene.spec
    for i, tr in enumerate(scene.tracks):
        if spec.objects[i].event not in FREE_EVENTS:
            continue
        for j in range(len(scene.tracks)):
            if j == i or (j > i and spec.objects[j].event in FREE_EVENTS):
                continue  # among free objects, the later one moves
            d = tr.pos[0] - scene.tracks[j].pos[0]
            need = (scene.sizes[i] + scene.sizes[j]) * 1.1 + 0.02
            if np.hypot(*d) < need and not _related(spec, i, j):
                room_right = vw - scene.tracks[j].pos[0, 0]
                side = 1.0 if (d[0] > 0 or d[0] == 0 and room_right > vw / 2) else -1.0
                dx = side * np.sqrt(max(need**2 - d[1] ** 2, 0.0)) - d[0]
                tr.pos[:, 0] += dx
    occ = scene.occluder
    for i, tr in enumerate(scene.tracks):  # nothing starts hidden behind the occluder unless it is meant to
        if occ is None or spec.objects[i].event not in FREE_EVENTS:
            continue
        r = scene.sizes[i] * 1.1
        d = tr.pos[0, 0] - occ.x
        if abs(d) < occ.half_w + r and abs(tr.pos[0, 1] - occ.y) < occ.half_h + r:
            side = 1.0 if (d > 0 or d == 0 and occ.x < vw / 2) else -1.0
            tr.pos[:, 0] += side * (occ.half_w + r + 0.02) - d


def _related(spec: SceneSpec, i: int, j: int) -> bool:
    return any({r.a, r.b} == {i, j} for r in spec.relations)


def _occluder(
    spec: SceneSpec, sizes: list[float], vw: float, vh: float, rng: np.random.Generator
) -> Occluder | None:
    passing = [i for i, o in enumerate(spec.objects) if o.event == "pass_behind"]
    if not passing:
        return None
    r = max(sizes[i] * _half_width(spec.objects[i].kind) for i in passing)
    rh = max(sizes[i] * _half_height(spec.objects[i].kind) for i in passing)
    x = vw / 2 + rng.uniform(-0.08, 0.08) * vw
    floor = vh * vocab.FLOOR_Y
    if spec.occluder == "wall":
        half_w, top = max(r, rh) * 1.25 + 0.02, 0.08 * vh
        return Occluder("wall", x, (top + floor) / 2, half_w, (floor - top) / 2)
    if spec.occluder == "tree":
        crown = max(r, rh) * 1.45 + 0.03
        top = max(0.05 * vh, floor - 2 * crown - 0.3)
        return Occluder("tree", x, (top + floor) / 2, crown, (floor - top) / 2)
    half = max(r, rh) * 1.3 + 0.02
    return Occluder("box", x, floor - half, half, half)


def _half_width(kind: str) -> float:
    x0, _, x1, _ = shapes.extent(kind)
    return max(-x0, x1)


def _half_height(kind: str) -> float:
    _, y0, _, y1 = shapes.extent(kind)
    return max(-y0, y1)


# --- motions -------------------------------------------------------------------------------------------------


def _still(p0: np.ndarray, n: int) -> Track:
    return Track(np.repeat(p0[None], n, 0).astype(np.float64), np.zeros((n, 2)), np.zeros(n), np.ones(n))


def _linear(p0: np.ndarray, v: np.ndarray, t: np.ndarray) -> Track:
    n = len(t)
    return Track(p0[None] + v[None] * t[:, None], np.repeat(v[None], n, 0), np.zeros(n), np.ones(n))


def _track(
    scene: Scene, i: int, p0: np.ndarray, t: np.ndarray, duration: float, vw: float, vh: float
) -> Track:
    o = scene.spec.objects[i]
    r = scene.sizes[i]
    speed = vocab.SPEEDS[o.speed]
    d = np.array(vocab.DIRECTIONS[o.direction]) if o.direction else np.zeros(2)
    bottom = r * shapes.extent(o.kind)[3]
    floor = vh * vocab.FLOOR_Y
    if o.event == "move":
        track = _linear(_keep_path_in_view(p0, d * speed * duration, r, vw, vh), d * speed, t)
    elif o.event == "bounce":
        track = _bounce(scene, i, p0, d, speed, t, floor - bottom)
    elif o.event == "roll":
        start = np.array([p0[0], floor - bottom])
        track = _linear(
            _keep_path_in_view(start, d * speed * duration, r, vw, vh), np.array([d[0] * speed, 0.0]), t
        )
        if o.kind != "car":  # no slip: turning by distance / radius, clockwise when rolling right
            track.angle = -np.degrees((track.pos[:, 0] - track.pos[0, 0]) / r)
    elif o.event == "rotate":
        track = _still(p0, len(t))
        track.angle = -SPIN_RATES[o.speed] * t
    elif o.event in ("grow", "shrink"):
        end = GROW_TO[o.speed] if o.event == "grow" else SHRINK_TO[o.speed]
        big = r * max(end, 1.0) * 1.05
        p = np.array([np.clip(p0[0], big, vw - big), np.clip(p0[1], big, vh - big)])
        track = _still(p, len(t))
        track.scale = 1 + (end - 1) * np.clip(t / duration, 0, 1)
    elif o.event == "pass_behind":
        track = _pass_behind(scene, i, d, speed, t, duration)
    elif o.event == "follow":
        track = _follow(scene, i, t)
    elif o.event in ("enter", "exit"):
        track = _edge(o.event, p0, d, speed, r, t, duration, vw, vh)
    else:  # still
        track = _still(p0, len(t))
    if o.kind in ("car", "person"):
        vx = track.vel[:, 0]
        track.mirror = bool(vx.sum() < 0)
        track.walk = o.kind == "person" and o.event not in ("still", "rotate", "grow", "shrink")
    return track


def _keep_path_in_view(p0: np.ndarray, travel: np.ndarray, r: float, vw: float, vh: float) -> np.ndarray:
    """Shift the start so start and end both stay inside the view when the path is short enough."""
    p0 = p0.copy()
    for axis, hi in ((0, vw), (1, vh * vocab.FLOOR_Y)):
        lo_, hi_ = r, hi - r
        end = p0[axis] + travel[axis]
        if end < lo_:
            p0[axis] = min(p0[axis] + lo_ - end, hi_)
        elif end > hi_:
            p0[axis] = max(p0[axis] - (end - hi_), lo_)
    return p0


def _bounce(
    scene: Scene, i: int, p0: np.ndarray, d: np.ndarray, speed: float, t: np.ndarray, y_floor: float
) -> Track:
    """Dropped from rest at p0 (falls from the upper part of the view), bouncing with energy loss."""
    vh = scene.view[1]
    y0 = min(p0[1], 0.35 * vh)
    vx = math.copysign(speed, d[0]) if abs(d[0]) > 1e-6 else 0.0
    ys, vys = np.zeros(len(t)), np.zeros(len(t))
    y, vy, now = y0, 0.0, 0.0
    resting = False
    for k, tk in enumerate(t):
        while now < tk - 1e-12:
            step = tk - now
            if resting:
                now = tk
                break
            hit = _time_to_floor(y, vy, y_floor)
            if hit is not None and hit <= step:
                now += hit
                vy = -RESTITUTION * (vy + GRAVITY * hit)
                y = y_floor
                scene.moments.append((now, i, "bounce"))
                if abs(vy) < REST_SPEED:
                    vy, resting = 0.0, True
            else:
                y += vy * step + 0.5 * GRAVITY * step * step
                vy += GRAVITY * step
                now = tk
        ys[k], vys[k] = y, vy
    pos = np.stack([p0[0] + vx * t, ys], -1)
    vel = np.stack([np.full(len(t), vx), vys], -1)
    return Track(pos, vel, np.zeros(len(t)), np.ones(len(t)))


def _time_to_floor(y: float, vy: float, y_floor: float) -> float | None:
    """Smallest t > 0 with y + vy t + g t^2 / 2 = y_floor (the object is above the floor)."""
    a, b, c = 0.5 * GRAVITY, vy, y - y_floor
    disc = b * b - 4 * a * c
    if disc < 0:
        return None
    root = (-b + math.sqrt(disc)) / (2 * a)
    return root if root > 1e-9 else None


def _collide(
    scene: Scene,
    i: int,
    j: int,
    starts: np.ndarray,
    t: np.ndarray,
    duration: float,
    vw: float,
    vh: float,
    rng,
) -> None:
    """Objects i and j approach along x, touch at t_c and exchange momentum (masses ~ area)."""
    a, b = (i, j) if scene.spec.objects[i].direction == "right" else (j, i)  # a starts on the left
    oa, ob = scene.spec.objects[a], scene.spec.objects[b]
    ra, rb = scene.sizes[a] * _half_width(oa.kind), scene.sizes[b] * _half_width(ob.kind)
    va, vb = vocab.SPEEDS[oa.speed], -vocab.SPEEDS[ob.speed]
    contact = ra + rb
    t_c = min(0.45 * duration, (0.8 * vw - contact) / (va - vb))
    t_c = max(t_c, 0.15 * duration)
    d0 = contact + (va - vb) * t_c
    cx = vw / 2 + rng.uniform(-0.05, 0.05) * vw
    y = float(
        np.clip(
            (starts[a, 1] + starts[b, 1]) / 2, max(scene.sizes[a], scene.sizes[b]), vh * vocab.FLOOR_Y - 0.2
        )
    )
    xa0, xb0 = cx - d0 / 2 - (va + vb) * t_c / 2, cx + d0 / 2 - (va + vb) * t_c / 2  # meet near the middle
    ma, mb = ra**2, rb**2
    e = COLLISION_RESTITUTION
    va2 = (ma * va + mb * vb + mb * e * (vb - va)) / (ma + mb)
    vb2 = (ma * va + mb * vb + ma * e * (va - vb)) / (ma + mb)
    xa_c, xb_c = xa0 + va * t_c, xb0 + vb * t_c
    before = t < t_c
    for k, x0, v, xc, v2 in ((a, xa0, va, xa_c, va2), (b, xb0, vb, xb_c, vb2)):
        x = np.where(before, x0 + v * t, xc + v2 * (t - t_c))
        vx = np.where(before, v, v2)
        n = len(t)
        scene.tracks[k] = Track(
            np.stack([x, np.full(n, y)], -1), np.stack([vx, np.zeros(n)], -1), np.zeros(n), np.ones(n)
        )
        o = scene.spec.objects[k]
        if o.kind in ("car", "person"):
            scene.tracks[k].mirror = v < 0
    scene.moments.append((float(t_c), a, "collide"))


def _pass_behind(scene: Scene, i: int, d: np.ndarray, speed: float, t: np.ndarray, duration: float) -> Track:
    """Crosses the occluder's middle at half time; fast enough to start and end in the clear."""
    occ = scene.occluder
    r = scene.sizes[i] * _half_width(scene.spec.objects[i].kind)
    sign = 1.0 if d[0] >= 0 else -1.0
    need = (occ.half_w + r + 0.03) / (duration / 2)
    v = max(speed, need)
    x0 = occ.x - sign * v * duration / 2
    return _linear(np.array([x0, occ.hide_y]), np.array([sign * v, 0.0]), t)


def _follow(scene: Scene, i: int, t: np.ndarray) -> Track:
    o = scene.spec.objects[i]
    leader = scene.tracks[o.target]
    gap = scene.sizes[i] + scene.sizes[o.target] + 0.06
    lv = leader.vel[0]
    back = -lv / (np.hypot(*lv) + 1e-9) if np.hypot(*lv) > 1e-6 else np.array([-1.0, 0.0])
    pos = leader.pos[0] + back * gap * 1.4
    speed = max(vocab.SPEEDS[o.speed], float(np.hypot(leader.vel[:, 0], leader.vel[:, 1]).max()))
    out, vel = np.zeros((len(t), 2)), np.zeros((len(t), 2))
    dt = 1.0 / scene.fps / 8
    for k in range(len(t)):
        if k:
            prev = pos.copy()
            for sub in range(8):  # the leader's position is interpolated inside the frame
                w = (sub + 1) / 8
                target = leader.pos[k - 1] * (1 - w) + leader.pos[k] * w
                delta = target - pos
                dist = np.hypot(*delta)
                if dist > gap:
                    pos = pos + delta / dist * min(speed * dt, dist - gap)
            vel[k] = (pos - prev) * scene.fps
        out[k] = pos
    vel[0] = vel[1] if len(t) > 1 else 0
    return Track(out, vel, np.zeros(len(t)), np.ones(len(t)))


def _edge(
    event: str,
    p0: np.ndarray,
    d: np.ndarray,
    speed: float,
    r: float,
    t,
    duration: float,
    vw: float,
    vh: float,
) -> Track:
    """Enter: come in from outside through an edge and stop inside; exit: leave the view through one."""
    inside = np.array([np.clip(p0[0], r, vw - r), np.clip(p0[1], r, vh * vocab.FLOOR_Y - r)])
    if event == "enter":
        inside = np.array([vw / 2, inside[1]]) if d[0] else np.array([inside[0], vh / 2])
        reach = _distance_to_edge(inside, -d, vw, vh) + r * 1.3 + 0.02  # back to fully outside
        v = max(speed, reach / (0.7 * duration))
        start = inside - d * reach
        arrive = reach / v
        tt = np.minimum(t, arrive)
        track = _linear(start, d * v, tt)
        track.vel[t > arrive] = 0
        return track
    reach = _distance_to_edge(inside, d, vw, vh) + r * 1.3 + 0.02
    v = max(speed, reach / (0.8 * duration))
    return _linear(inside, d * v, t)


def _distance_to_edge(p: np.ndarray, d: np.ndarray, vw: float, vh: float) -> float:
    """How far from p along direction d to the view's border."""
    best = math.inf
    for axis, hi in ((0, vw), (1, vh)):
        if d[axis] > 1e-9:
            best = min(best, (hi - p[axis]) / d[axis])
        elif d[axis] < -1e-9:
            best = min(best, -p[axis] / d[axis])
    return best


# --- camera and light ------------------------------------------------------------------------------------------


def _camera(move: str, t: np.ndarray, duration: float, vw: float, vh: float) -> np.ndarray:
    cam = np.zeros((len(t), 3))
    cam[:, 0], cam[:, 1], cam[:, 2] = vw / 2, vh / 2, 1.0
    if move.startswith("pan_"):
        dx, dy = vocab.DIRECTIONS[move[4:]]
        cam[:, 0] += dx * vocab.PAN_SPEED * t
        cam[:, 1] += dy * vocab.PAN_SPEED * t
    elif move == "zoom_in":
        cam[:, 2] = 1 + (vocab.ZOOM_END - 1) * np.clip(t / duration, 0, 1)
    elif move == "zoom_out":
        cam[:, 2] = vocab.ZOOM_END - (vocab.ZOOM_END - 1) * np.clip(t / duration, 0, 1)
    return cam


def _light(name: str, t: np.ndarray, duration: float) -> np.ndarray:
    light = vocab.LIGHTS[name]
    if light.start == light.end:
        return np.repeat(np.array(light.start)[None], len(t), 0)
    # day -> dusk at half time -> night: three key gains, piecewise linear
    u = np.clip(t / duration, 0, 1)[:, None]
    start, mid, end = np.array(light.start), np.array(vocab.LIGHTS["dusk"].start), np.array(light.end)
    return np.where(u < 0.5, start + (mid - start) * (u * 2), mid + (end - mid) * (u * 2 - 1))


# --- the effective spec ------------------------------------------------------------------------------------------


def speed_label(v: float) -> str:
    slow, fast = vocab.SPEED_LIMITS
    return "slow" if v < slow else "fast" if v > fast else "medium"


def position_label(x: float, y: float, vw: float, vh: float) -> str:
    col = "left" if x < vw / 3 else "right" if x > 2 * vw / 3 else ""
    row = "top" if y < vh / 3 else "bottom" if y > 2 * vh / 3 else ""
    return f"{row}_{col}" if row and col else row or col or "centre"


def direction_label(v: np.ndarray) -> str | None:
    """The nearest of the 8 directions to a velocity, or None if it is (almost) zero."""
    if np.hypot(*v) < 1e-6:
        return None
    return max(vocab.DIRECTIONS, key=lambda k: float(np.dot(vocab.DIRECTIONS[k], v)))


def _write_back(scene: Scene, duration: float, vw: float, vh: float) -> None:
    """Make the spec say what was simulated: measured speed, start position and direction of travel."""
    for o, tr in zip(scene.spec.objects, scene.tracks, strict=True):
        moving = o.event in ("move", "roll", "pass_behind", "enter", "exit", "follow", "collide")
        if moving:
            v = np.hypot(tr.vel[:, 0], tr.vel[:, 1])
            active = v[v > 1e-6]
            o.speed = speed_label(float(active.mean()) if len(active) else 0.0)
            o.direction = direction_label(tr.vel[0]) or o.direction
        cam = scene.camera[0]  # where the first frame shows it (a zoom-out starts zoomed in)
        x, y = (tr.pos[0] - cam[:2]) * cam[2] + (vw / 2, vh / 2)
        o.position = position_label(x, y, vw, vh)
