"""`complete_spec`: fill what a prompt left open (None) from a random generator, keeping what it said.

The choices keep scenes readable for a classical-vision evaluator: object colours never clash with the
background or the occluder (vocab.clashes) and differ from each other when the prompt does not say otherwise;
collide pairs start on opposite sides moving toward each other; positions agree with the stated relations.
"""

from __future__ import annotations

import copy

import numpy as np

from haneul.errors import InputError
from haneul.world import vocab
from haneul.world.spec import ObjectSpec, SceneSpec

# How often each open field takes each value in random scenes (the mix training sees).
EVENT_WEIGHTS = {
    "still": 0.06,
    "move": 0.2,
    "bounce": 0.15,
    "roll": 0.1,
    "rotate": 0.09,
    "grow": 0.06,
    "shrink": 0.06,
    "collide": 0.09,
    "pass_behind": 0.09,
    "follow": 0.04,
    "enter": 0.03,
    "exit": 0.03,
}
CAMERA_WEIGHTS = {
    "static": 0.64,
    "pan_left": 0.07,
    "pan_right": 0.07,
    "pan_up": 0.04,
    "pan_down": 0.04,
    "zoom_in": 0.07,
    "zoom_out": 0.07,
}
LIGHT_WEIGHTS = {"day": 0.64, "dusk": 0.12, "night": 0.12, "day_to_night": 0.12}
COUNT_WEIGHTS = {1: 0.4, 2: 0.3, 3: 0.17, 4: 0.13}
ROLLING_KINDS = ("ball", "ring", "car")  # what "roll" picks when the kind is open
SPINNING_KINDS = ("box", "triangle", "star", "heart", "car", "person")  # rotation shows on these
HORIZONTAL = ("left", "right")


def _pick(rng: np.random.Generator, weights: dict) -> object:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _choice(rng: np.random.Generator, items) -> object:
    items = list(items)
    return items[int(rng.integers(len(items)))]


def complete_spec(spec: SceneSpec, rng: np.random.Generator, duration: float | None = None) -> SceneSpec:
    """A copy of `spec` with every open field chosen; what the spec states is kept as is.

    With `duration` (seconds), open speeds of travelling objects are chosen so the path fits in the view,
    so long random clips do not spend most of their frames on an empty backdrop.
    """
    spec = copy.deepcopy(spec).validate()
    if not spec.objects:
        spec.objects = [ObjectSpec() for _ in range(_pick(rng, COUNT_WEIGHTS))]
    _complete_events(spec, rng)
    _complete_scene(spec, rng)
    _complete_looks(spec, rng)
    _complete_motion(spec, rng, duration)
    _complete_positions(spec, rng)
    return spec.validate()


def _complete_events(spec: SceneSpec, rng: np.random.Generator) -> None:
    """Events first: they decide kinds (roll -> round things), partners and the occluder."""
    for i, o in enumerate(spec.objects):
        if o.event is None:
            weights = dict(EVENT_WEIGHTS)
            if (
                any(q.event == "pass_behind" for q in spec.objects)
                or spec.occluder is None
                and len(spec.objects) > 2
            ):
                weights.pop("pass_behind")  # one occluder crossing per scene keeps the story clear
            free = [
                j
                for j, q in enumerate(spec.objects)
                if j != i and (q.event is None or q.event == "collide" and q.target is None)
            ]
            if not free and len(spec.objects) >= vocab.MAX_OBJECTS:
                weights.pop("collide")
            o.event = _pick(rng, weights)
        if o.event in vocab.NEEDS_TARGET and o.target is None:
            o.target = _partner(spec, i, rng)
        if o.event == "collide" and spec.objects[o.target].event is None:
            spec.objects[o.target].event, spec.objects[o.target].target = "collide", i
    for i, o in enumerate(spec.objects):  # collide partners collide back
        if o.event == "collide":
            t = spec.objects[o.target]
            if t.event in (None, "collide", "still", "move"):
                t.event, t.target = "collide", i
            else:
                raise InputError(f"object {i} collides with object {o.target}, which already {t.event}s")
        if o.event == "follow":
            leader = spec.objects[o.target]
            if leader.event is None or leader.event == "follow" and _follows_back(spec, o.target, i):
                leader.event, leader.target = "move", None  # someone has to lead: a circle cannot move
    if any(o.event == "pass_behind" for o in spec.objects) and spec.occluder is None:
        colours = [o.colour for o in spec.objects if o.colour]
        options = [
            k for k in vocab.OCCLUDERS if not any(vocab.clashes(c, spec.background, k) for c in colours)
        ]
        if not options:
            raise InputError(f"no occluder stands out from the colours {', '.join(colours)}")
        spec.occluder = _choice(rng, options)


def _follows_back(spec: SceneSpec, j: int, i: int) -> bool:
    """True if following leaders from object j (a follower) comes back to object i: a circle."""
    seen = set()
    while spec.objects[j].event == "follow" and j not in seen:
        seen.add(j)
        j = spec.objects[j].target
        if j == i:
            return True
    return False


def _partner(spec: SceneSpec, i: int, rng: np.random.Generator) -> int:
    """Another object for object i to collide with or follow; a new one if none is free."""
    free = [
        j
        for j, q in enumerate(spec.objects)
        if j != i and (q.event is None or q.event == spec.objects[i].event and q.target in (None, i))
    ]
    if spec.objects[i].event == "follow":
        free = [j for j, q in enumerate(spec.objects) if j != i and q.event != "follow"] or free
    if free:
        return free[0]
    if len(spec.objects) >= vocab.MAX_OBJECTS:
        raise InputError(
            f"object {i} {spec.objects[i].event}s but there is no other object free; the world shows at most {vocab.MAX_OBJECTS}"
        )
    spec.objects.append(ObjectSpec(event="collide" if spec.objects[i].event == "collide" else None))
    j = len(spec.objects) - 1
    if spec.objects[j].event is None:
        spec.objects[j].event = _choice(rng, ("move", "bounce", "roll"))
    return j


def _complete_scene(spec: SceneSpec, rng: np.random.Generator) -> None:
    colours = [o.colour for o in spec.objects if o.colour]
    if spec.background is None:
        options = [
            b for b in vocab.BACKGROUNDS if not any(vocab.clashes(c, b, spec.occluder) for c in colours)
        ]
        if not options:
            raise InputError(f"no background lets the colours {', '.join(colours)} stand out")
        spec.background = _choice(rng, options)
    if spec.camera is None:
        spec.camera = _pick(rng, CAMERA_WEIGHTS)
    if spec.light is None:
        spec.light = "night" if spec.background == "night" else _pick(rng, LIGHT_WEIGHTS)


def _complete_looks(spec: SceneSpec, rng: np.random.Generator) -> None:
    allowed = vocab.allowed_colours(spec.background, spec.occluder)
    for o in spec.objects:
        if o.kind is None:
            pool = (
                ROLLING_KINDS
                if o.event == "roll"
                else SPINNING_KINDS
                if o.event == "rotate"
                else list(vocab.KINDS)
            )
            o.kind = _choice(rng, pool)
        if o.colour is None:
            used = {q.colour for q in spec.objects}
            o.colour = _choice(rng, [c for c in allowed if c not in used] or allowed)
        if o.size is None:
            o.size = _choice(rng, vocab.SIZES)


def _complete_motion(spec: SceneSpec, rng: np.random.Generator, duration: float | None) -> None:
    for i, o in enumerate(spec.objects):
        if o.speed is None:
            options = list(vocab.SPEEDS)
            if duration and o.event in ("move", "roll", "follow", "collide"):
                options = [k for k in options if vocab.SPEEDS[k] * duration <= 0.8] or ["slow"]
            o.speed = _choice(rng, options)
        if o.direction is None:
            if o.event in ("roll", "pass_behind"):
                o.direction = _choice(rng, HORIZONTAL)
            elif o.event in ("enter", "exit"):
                o.direction = _choice(rng, ("left", "right", "left", "right", "up", "down"))
            elif o.event == "move":
                o.direction = _choice(rng, vocab.DIRECTIONS)
            elif o.event == "collide":
                o.direction = (
                    "right" if i < o.target else "left"
                )  # toward the partner; fixed by positions below
        if o.event in ("roll", "pass_behind") and o.direction not in HORIZONTAL:
            o.direction = "left" if vocab.DIRECTIONS[o.direction][0] < 0 else "right"


def _complete_positions(spec: SceneSpec, rng: np.random.Generator) -> None:
    """Positions agree with relations and with collide pairs (the left one moves right)."""
    for i, o in enumerate(spec.objects):
        if o.event == "collide" and i < o.target:
            a, b = o, spec.objects[o.target]
            if a.position is None and b.position is None:
                left_first = (
                    rng.random() < 0.5
                    if not any(r.a in (i, o.target) for r in spec.relations)
                    else _relation_says_left(spec, i)
                )
                a.position, b.position = ("left", "right") if left_first else ("right", "left")
            a.direction = "right" if a.position == "left" or b.position == "right" else "left"
            b.direction = "left" if a.direction == "right" else "right"
    for r in spec.relations:
        a, b = spec.objects[r.a], spec.objects[r.b]
        want = {
            "left_of": ("left", "right"),
            "right_of": ("right", "left"),
            "above": ("top", "bottom"),
            "below": ("bottom", "top"),
        }[r.relation]
        a.position = a.position or want[0]
        b.position = b.position or want[1]
    taken = {o.position for o in spec.objects if o.position}
    for o in spec.objects:
        if o.position is None:
            if o.event == "bounce":
                options = ["top", "top_left", "top_right"]
            elif o.event in ("roll", "pass_behind"):
                options = ["left"] if o.direction == "right" else ["right"]
            elif o.event == "enter":
                opposite = {"left": "right", "right": "left", "up": "bottom", "down": "top"}
                options = [opposite.get(o.direction, "centre")]
            else:
                options = [p for p in vocab.POSITIONS if p not in taken] or list(vocab.POSITIONS)
            o.position = _choice(rng, options)
            taken.add(o.position)


def _relation_says_left(spec: SceneSpec, i: int) -> bool:
    for r in spec.relations:
        if r.a == i:
            return r.relation == "left_of"
        if r.b == i:
            return r.relation == "right_of"
    return True
