"""Captions at two levels, both true to the simulated scene.

- `short_caption(spec, rng)`: a prompt as a person types it, in varied phrasing (at least five templates
  per event, English and Korean). Every template uses only vocabulary words, so `parse_prompt` reads it back
  to the same kinds, colours and events (tested).
- `detailed_caption(spec_or_scene)`: one regular English paragraph that states everything: the backdrop,
  light and camera, then every object (size, colour, kind, where it starts, what it does, how fast, in
  which direction, and when things happen), then the left-to-right order. Left and right are the viewer's.
  Given a rendered `Scene` it uses the ground truth (bounce times, when an object is hidden or leaves the
  frame); given a bare `SceneSpec` it states only what the spec says. It is the style the model is trained
  on and the prompt expander imitates, so its wording is fixed: one sentence shape per fact.
"""

from __future__ import annotations

import re

import numpy as np

from haneul.world import vocab
from haneul.world.sim import Scene, position_label
from haneul.world.spec import ObjectSpec, SceneSpec
from haneul.world.vocab import Words

KIND_NAMES = {"person": "character"}
POSITION_NAMES = {
    "left": "left",
    "right": "right",
    "top": "top",
    "bottom": "bottom",
    "centre": "centre",
    "top_left": "top left",
    "top_right": "top right",
    "bottom_left": "bottom left",
    "bottom_right": "bottom right",
}
DIRECTION_NAMES = {
    "left": "to the left",
    "right": "to the right",
    "up": "upward",
    "down": "downward",
    "up_left": "up and to the left",
    "up_right": "up and to the right",
    "down_left": "down and to the left",
    "down_right": "down and to the right",
}
# The phrases above as swap tables for `swap_words`: whole phrases, so "at the left" (where an object starts)
# and "to the left" (which way it moves) change apart. Training's caption contrast uses them.
POSITION_PHRASES = {k: Words((f"at the {v}",)) for k, v in POSITION_NAMES.items()}
DIRECTION_PHRASES = {k: Words((v,)) for k, v in DIRECTION_NAMES.items()}
COUNT_NAMES = {1: "One object", 2: "Two objects", 3: "Three objects", 4: "Four objects"}
# lower case: swap_words looks words up in lower case (the text encoder is uncased)
COUNT_PHRASES = {n: Words((v.lower(),)) for n, v in COUNT_NAMES.items()}
# The vocabularies a caption's words can be swapped within, by name: training's caption contrast and
# sampling's contrast guidance (haneul.guidance) name them.
VOCABULARIES = {
    "kind": vocab.KINDS,
    "colour": vocab.COLOUR_WORDS,
    "position": POSITION_PHRASES,
    "direction": DIRECTION_PHRASES,
    "count": COUNT_PHRASES,
}
BACKGROUND_NAMES = {
    "white": "a plain white background",
    "black": "a plain black background",
    "sky": "a blue sky with clouds",
    "grass": "green grass under a blue sky",
    "sea": "the sea under a blue sky",
    "night": "a starry night sky",
    "sand": "sand under a blue sky",
    "snow": "snow under a pale sky",
    "wall": "a stone brick wall",
}
LIGHT_NAMES = {
    "day": "in daylight",
    "dusk": "in orange dusk light",
    "night": "in night light",
    "day_to_night": "as day turns to dusk and night",
}
CAMERA_NAMES = {
    "static": "The camera is static.",
    "pan_left": "The camera pans to the left.",
    "pan_right": "The camera pans to the right.",
    "pan_up": "The camera pans up.",
    "pan_down": "The camera pans down.",
    "zoom_in": "The camera zooms in.",
    "zoom_out": "The camera zooms out.",
}
SPEED_NAMES = {"slow": "slowly", "medium": "at medium speed", "fast": "quickly"}
OCCLUDER_NAMES = {"wall": "a wall", "tree": "a tree", "box": "a wooden box"}


def object_name(o: ObjectSpec, with_size: bool = True) -> str:
    size = f"{o.size} " if with_size and o.size else ""
    colour = f"{o.colour} " if o.colour else ""
    return f"{size}{colour}{KIND_NAMES.get(o.kind, o.kind or 'object')}"


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


# --- detailed ---------------------------------------------------------------------------------------------------


def detailed_caption(spec_or_scene: SceneSpec | Scene) -> str:
    """Everything about the clip in one regular English paragraph (see module docstring)."""
    scene = spec_or_scene if isinstance(spec_or_scene, Scene) else None
    spec = scene.spec if scene else spec_or_scene
    n = len(spec.objects)
    count = COUNT_NAMES.get(n, "Objects")
    parts = []
    setting = (
        f"{count} on {BACKGROUND_NAMES[spec.background]}"
        if spec.background
        else f"{count} on an open background"
    )
    if spec.light:
        setting += f", {LIGHT_NAMES[spec.light]}"
    parts.append(
        setting + ("." if not (scene is not None and scene.num_frames == 1) else ", as a still picture.")
    )
    still = scene is not None and scene.num_frames == 1
    if spec.camera and not still:
        parts.append(CAMERA_NAMES[spec.camera])
    if scene is not None and scene.occluder is not None:
        parts.append(f"There is {OCCLUDER_NAMES[scene.occluder.kind]} in the middle of the view.")
    elif spec.occluder:
        parts.append(f"There is {OCCLUDER_NAMES[spec.occluder]} in the view.")
    names = _unique_names(spec)
    for i, o in enumerate(spec.objects):
        if still:
            parts.append(f"{_article(object_name(o)).capitalize()} at the {POSITION_NAMES[o.position]}.")
        else:
            parts.append(_object_sentence(spec, scene, i, names))
    order = _order_sentence(spec, scene, names)
    if order:
        parts.append(order)
    return " ".join(parts)


def _unique_names(spec: SceneSpec) -> list[str]:
    """'the red ball'; with the size when two objects share colour and kind; numbered if still equal."""
    names = [object_name(o, with_size=False) for o in spec.objects]
    for i, o in enumerate(spec.objects):
        if names.count(names[i]) > 1:
            names[i] = object_name(o)
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if names.count(name) > 1:
            seen[name] = seen.get(name, 0) + 1
            out.append(f"{['first', 'second', 'third', 'fourth'][seen[name] - 1]} {name}")
        else:
            out.append(name)
    return out


def _object_sentence(spec: SceneSpec, scene: Scene | None, i: int, names: list[str]) -> str:
    """One sentence per object: '<A size colour kind> at the <start position> <does what>[, when].'"""
    o = spec.objects[i]
    at = f" at the {POSITION_NAMES[o.position]}" if o.position else ""
    head = f"{_article(object_name(o)).capitalize()}{at}"
    speed = f" {SPEED_NAMES[o.speed]}" if o.speed else ""
    direction = f" {DIRECTION_NAMES[o.direction]}" if o.direction else ""
    target = f"the {names[o.target]}" if o.target is not None else "another object"
    e = o.event
    if e is None:
        text = f"{head}."
    elif e == "still":
        text = f"{head} stays still."
    elif e == "move":
        text = f"{head} moves{direction}{speed}."
    elif e == "bounce":
        drift = f", drifting{direction}," if direction else ""
        text = f"{head} falls{drift} and bounces, lower each time{_bounce_times(scene, i)}."
    elif e == "roll" and o.kind == "car":
        text = f"{head} drives{direction} along the ground{speed}."
    elif e == "roll":
        turn = "clockwise" if o.direction == "right" else "counterclockwise"
        text = f"{head} rolls{direction} along the ground{speed}, turning {turn}."
    elif e == "rotate":
        text = f"{head} spins clockwise{speed}."
    elif e in ("grow", "shrink"):
        text = f"{head} {e}s{speed}."
    elif e == "collide":
        text = f"{head} moves{direction}{speed} and hits {target}{_collision_after(scene, i)}."
    elif e == "pass_behind":
        occluder = OCCLUDER_NAMES[spec.occluder] if spec.occluder else "an occluder"
        text = f"{head} moves{direction}{speed}, passes behind {occluder}{_hidden_times(scene, i)} and comes out."
    elif e == "follow":
        text = f"{head} follows {target}{speed}."
    elif e == "enter":
        side = {"right": "left", "left": "right", "down": "top", "up": "bottom"}.get(o.direction, "")
        edge = f" from the {side} edge" if side else ""
        text = f"{_article(object_name(o)).capitalize()} enters{edge}, moving{direction}{speed}{_edge_time(scene, i, True)}."
    else:  # exit
        text = f"{head} moves{direction}{speed} and leaves the frame{_edge_time(scene, i, False)}."
    return text + _leaves_sentence(scene, i)


def _seconds(t: float) -> str:
    return f"{t:.1f} s"


def _times(times: list[float]) -> str:
    """'0.4, 1.1 and 1.5 s'."""
    parts = [f"{t:.1f}" for t in times]
    return (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + " s"


def _bounce_times(scene: Scene | None, i: int) -> str:
    if scene is None:
        return ""
    times = [t for t, j, what in scene.moments if j == i and what == "bounce"]
    if not times:
        return ", still falling at the end"
    return f", hitting the ground at {_times(times[:4])}" + (" and later" if len(times) > 4 else "")


def _collision_after(scene: Scene | None, i: int) -> str:
    if scene is None:
        return ""
    t_c = next((t for t, _, what in scene.moments if what == "collide"), None)
    if t_c is None or t_c > scene.times[-1]:
        return ", just after the clip ends"
    k = min(int(np.searchsorted(scene.times, t_c)), scene.num_frames - 1)
    vx = scene.tracks[i].vel[k, 0]
    before = scene.tracks[i].vel[0, 0]
    if abs(vx) < 0.02:
        after = "stops"
    elif np.sign(vx) != np.sign(before):
        after = f"bounces back {DIRECTION_NAMES['left' if vx < 0 else 'right']}"
    else:
        after = f"goes on {'more slowly' if abs(vx) < abs(before) else 'faster'}"
    return f" at {_seconds(t_c)} and {after}"


def _visible(scene: Scene, i: int) -> np.ndarray:
    return np.array([f["objects"][i]["visible"] for f in scene.truth["frames"]])


def _hidden_times(scene: Scene | None, i: int) -> str:
    if scene is None or scene.truth is None:
        return ""
    hidden = np.flatnonzero(_visible(scene, i) < 0.05)
    if len(hidden) == 0:
        return " (partly hidden)"
    return f" (hidden from {scene.times[hidden[0]]:.1f} to {_seconds(scene.times[hidden[-1]])})"


def _edge_time(scene: Scene | None, i: int, entering: bool) -> str:
    if scene is None or scene.truth is None:
        return ""
    vis = _visible(scene, i)
    if entering:
        full = np.flatnonzero(vis > 0.95)
        return (
            f", fully in view at {_seconds(scene.times[full[0]])}"
            if len(full)
            else ", still partly outside at the end"
        )
    gone = np.flatnonzero(vis < 0.01)
    return f" at {_seconds(scene.times[gone[0]])}" if len(gone) else ", still partly in view at the end"


def _leaves_sentence(scene: Scene | None, i: int) -> str:
    """For events other than enter and exit: when the object comes into view, if it starts outside the
    frame (a follower behind its leader, or outside a zoomed-in first frame), and when it leaves the frame
    after having been in it (hiding behind the occluder is not leaving)."""
    if scene is None or scene.truth is None or scene.spec.objects[i].event in ("exit", "enter"):
        return ""
    sides = [_outside_side(f["objects"][i]["box"], scene.width, scene.height) for f in scene.truth["frames"]]
    inside = [k for k, side in enumerate(sides) if side is None]
    if not inside:
        return " It stays outside the frame."
    text = ""
    if inside[0] > 0:
        text += f" It comes into view from the {sides[0]} edge at {_seconds(scene.times[inside[0]])}."
    gone = next((k for k in range(inside[0], len(sides)) if sides[k] is not None), None)
    if gone is not None:
        text += f" It leaves the frame at the {sides[gone]} edge at {_seconds(scene.times[gone])}."
    return text


def _outside_side(box: list[float], w: int, h: int) -> str | None:
    """The edge beyond which a box lies wholly outside the frame, or None if any of it is in the frame."""
    x0, y0, x1, y1 = box
    if x1 < 0:
        return "left"
    if x0 > w:
        return "right"
    if y1 < 0:
        return "top"
    if y0 > h:
        return "bottom"
    return None


def _order_sentence(spec: SceneSpec, scene: Scene | None, names: list[str]) -> str:
    """Left-to-right order (viewer's) at the start, from ground truth or from the stated relations."""
    if len(spec.objects) < 2:
        return ""
    if scene is not None and scene.truth is not None:
        xs = [o["centre"][0] for o in scene.truth["frames"][0]["objects"]]
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        text = "From left to right: " + ", ".join(f"the {names[i]}" for i in order) + "."
        ys = [o["centre"][1] for o in scene.truth["frames"][0]["objects"]]
        top = min(range(len(ys)), key=lambda i: ys[i])
        if max(ys) - min(ys) > 0.15 * min(scene.width, scene.height):
            text += f" The {names[top]} is the highest."
        return text
    words = {"left_of": "to the left of", "right_of": "to the right of", "above": "above", "below": "below"}
    return " ".join(f"The {names[r.a]} is {words[r.relation]} the {names[r.b]}." for r in spec.relations)


def end_position(scene: Scene, i: int) -> str:
    """Where object i is at the end, in the viewer's terms (used by the benchmark and captions)."""
    cx, cy = scene.truth["frames"][-1]["objects"][i]["centre"]
    s = min(scene.width, scene.height)
    return position_label(cx / s, cy / s, scene.width / s, scene.height / s)


def swap_words(text: str, table: dict[str, Words], rng: np.random.Generator | None = None) -> str:
    """`text` with each English word of one vocabulary item (a kind, a colour) replaced by the word in the same
    place of another item's list: "a red ball" -> "a red box" (kinds). Each item goes to one other item, the
    next in `table` or, with `rng`, one drawn at random, so every mention of it changes alike. Articles are
    left as they were ("a orange ball"); Korean words are not swapped."""
    items = list(table.values())
    if rng is None:
        targets = [(i + 1) % len(items) for i in range(len(items))]
    else:
        targets = [int((i + rng.integers(1, len(items))) % len(items)) for i in range(len(items))]
    to = {}
    for i, words in enumerate(items):
        other = items[targets[i]].en
        for j, word in enumerate(words.en):
            to[word] = other[min(j, len(other) - 1)]
    pattern = r"\b(" + "|".join(sorted(map(re.escape, to), key=len, reverse=True)) + r")\b"
    return re.sub(pattern, lambda m: to[m.group(1).lower()], text, flags=re.IGNORECASE)


def check_vocabulary_names(names: list[str], what: str) -> None:
    """Raise InputError unless `names` is a non-empty list of keys of VOCABULARIES (`what` names the setting)."""
    from haneul.errors import InputError

    unknown = [n for n in names if n not in VOCABULARIES]
    if unknown or not names:
        raise InputError(f"{what} {names} must name one or more of {', '.join(VOCABULARIES)}")


def swap_all(text: str, names: list[str], rng: np.random.Generator) -> str:
    """`text` with the words of every vocabulary in `names` (keys of VOCABULARIES) swapped (`swap_words`):
    "a red ball at the top" -> "a red box at the left" for ["kind", "position"]."""
    for name in names:
        text = swap_words(text, VOCABULARIES[name], rng)
    return text


def swap_one(text: str, names: list[str], rng: np.random.Generator) -> str:
    """`text` with the words of one vocabulary of `names` (keys of VOCABULARIES) swapped (`swap_words`): the
    first, in an order drawn from rng, that the text uses. Unchanged if it uses none (an empty or Korean
    caption, a short prompt with no position). Training's caption contrast swaps so, one vocabulary a clip."""
    # one name draws nothing, so runs with the default ["kind"] swap exactly as they did before the option
    order = names if len(names) == 1 else [names[i] for i in rng.permutation(len(names))]
    for name in order:
        other = swap_words(text, VOCABULARIES[name], rng)
        if other != text:
            return other
    return text
