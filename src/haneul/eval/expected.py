"""What a prompt asks for, and what the world would show for it: the benchmark's reference.

`expect(prompt, seed, width, height, num_frames, fps)` parses the prompt with the world's own parser (what
is stated decides which dimensions apply) and renders the scene the world makes of it for that seed (its
ground truth gives the expected paths, visibility behind the occluder and the physics scale). Generated
videos are scored against stated facts and measurable physics, never against the seed's unstated choices
(where exactly a ball starts, how fast it goes, which way it rolls when the prompt does not say).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from haneul.world import parse_prompt, render_clip
from haneul.world.spec import SceneSpec

# Events whose object travels along a path (direction is scored on these when the prompt fixes the way).
TRAVEL_EVENTS = ("move", "roll", "enter", "exit", "pass_behind", "collide", "follow")


@dataclass
class ExpectedObject:
    index: int
    kind: str | None  # stated by the prompt (None: left open)
    colour: str | None
    event: str | None
    path: np.ndarray  # (F, 2) centre in output pixels, from the world's ground truth for this seed
    visible: np.ndarray  # (F,) share of the object in view and not hidden
    kind_shown: str  # what the world rendered (the stated kind, or its own choice)
    colour_shown: str


@dataclass
class Expectation:
    prompt: str
    stated: SceneSpec  # what the prompt says
    shown: SceneSpec  # what the world makes of it for the seed (complete)
    truth: dict  # the world's per-frame ground truth (haneul.world.render)
    objects: list[ExpectedObject]
    frames: np.ndarray  # the world's ground-truth frames (F, H, W, 3): for the report
    dimensions: list[str] = field(default_factory=list)  # dimensions that apply to this prompt

    @property
    def short_side(self) -> float:
        return float(min(self.truth["width"], self.truth["height"]))


def expect(prompt: str, seed: int, width: int, height: int, num_frames: int, fps: float) -> Expectation:
    """Parse the prompt and render the world's clip for it (exactly what `haneul world render` makes)."""
    stated = parse_prompt(prompt)
    clip = render_clip(prompt, width, height, num_frames, fps, seed)
    truth = clip.truth["frames"]
    objects = []
    for i, o in enumerate(clip.spec.objects):
        said = stated.objects[i] if i < len(stated.objects) else None
        objects.append(
            ExpectedObject(
                index=i,
                kind=said.kind if said else None,
                colour=said.colour if said else None,
                event=said.event if said else None,
                path=np.array([f["objects"][i]["centre"] for f in truth], dtype=np.float64),
                visible=np.array([f["objects"][i]["visible"] for f in truth], dtype=np.float64),
                kind_shown=o.kind,
                colour_shown=o.colour,
            )
        )
    return Expectation(prompt, stated, clip.spec, clip.truth, objects, clip.frames, stated_dimensions(stated))


def stated_dimensions(stated: SceneSpec) -> list[str]:
    """The dimensions a prompt can be scored on: only what it states (plus temporal consistency)."""
    objs = stated.objects
    dims = []
    if any(o.colour for o in objs):
        dims.append("colour")
    if any(o.kind for o in objs):
        dims.append("kind")
    if objs:
        dims.append("count")
    if stated.relations:
        dims.append("relation")
    if any(states_direction(stated, i) for i in range(len(objs))):
        dims.append("direction")
    if any(o.event == "bounce" for o in objs):
        dims.append("gravity")
    if any(o.event == "pass_behind" for o in objs):
        dims.append("permanence")
    dims.append("temporal")
    if stated.background:
        dims.append("background")
    return dims


def states_direction(stated: SceneSpec, index: int) -> bool:
    """Whether the prompt fixes which way object `index` travels: a stated direction (the parser also
    sets it from an enter/exit side), or a partner to close in on (collide) or go along with (follow).
    "a ball rolls" leaves the way open: the seed picks one, and a video going the other way is right too."""
    o = stated.objects[index]
    if o.event not in TRAVEL_EVENTS:
        return False
    if o.event in ("collide", "follow"):
        return o.target is not None
    return o.direction is not None
