"""World clips in memory: `render_clip` for one prompt or spec, `iter_world_clips` for training streams.

A clip is deterministic in its seed: the seed completes the spec, jitters the layout, draws the backdrop
and picks the caption phrasing. `iter_world_clips` derives one seed per clip from (seed, index), so a
stream can be split across workers (`start`, `step`) and resumed at any index without drawing the clips
before it. A one-frame clip is a still image: its objects hold still and its captions describe a picture.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from haneul.errors import InputError
from haneul.world.captions import detailed_caption
from haneul.world.complete import COUNT_WEIGHTS, _pick, complete_spec
from haneul.world.parse import parse_prompt
from haneul.world.prompts import short_caption
from haneul.world.render import render_scene
from haneul.world.sim import simulate
from haneul.world.spec import ObjectSpec, SceneSpec


@dataclass
class WorldClip:
    frames: np.ndarray  # (F, H, W, 3) uint8 RGB
    caption: str  # detailed caption (English, regular): what the model trains on
    short_caption: str  # a short prompt as a person types it (English or Korean)
    spec: SceneSpec  # the effective spec: complete, true to the motion
    truth: dict  # per-frame ground truth (render.py), JSON-serialisable
    seed: int
    fps: float


def clip_seed(seed: int, index: int) -> int:
    """The seed of clip `index` of a stream: independent streams for neighbouring seeds and indices."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def render_clip(
    spec: SceneSpec | str | None, width: int, height: int, num_frames: int, fps: float, seed: int
) -> WorldClip:
    """Render a scene that satisfies `spec` (a SceneSpec, a prompt, or None for a random scene)."""
    _check_shape(width, height, num_frames, fps)
    rng = np.random.default_rng(seed)
    if isinstance(spec, str):
        spec = parse_prompt(spec)
    spec = spec or SceneSpec()
    still = num_frames == 1
    if still:
        spec = _as_still(spec, rng)
    full = complete_spec(spec, rng, duration=None if still else (num_frames - 1) / fps)
    scene = simulate(full, width, height, num_frames, fps, seed)
    frames = render_scene(scene)
    return WorldClip(
        frames=frames,
        caption=detailed_caption(scene),
        short_caption=short_caption(scene.spec, rng, still=still),
        spec=scene.spec,
        truth=scene.truth,
        seed=seed,
        fps=fps,
    )


def iter_world_clips(
    seed: int,
    sizes: Sequence[tuple[int, int]],
    frame_counts: Sequence[int],
    fps: float,
    start: int = 0,
    step: int = 1,
) -> Iterator[WorldClip]:
    """Random clips forever: clip i (i = start, start + step, ...) has seed clip_seed(seed, i) and a size
    (width, height) and frame count drawn from the lists, so shapes and durations are mixed."""
    if not sizes or not frame_counts:
        raise InputError("iter_world_clips needs at least one size and one frame count")
    index = start
    while True:
        s = clip_seed(seed, index)
        rng = np.random.default_rng([s, 1])
        width, height = sizes[int(rng.integers(len(sizes)))]
        num_frames = int(frame_counts[int(rng.integers(len(frame_counts)))])
        yield render_clip(None, int(width), int(height), num_frames, fps, s)
        index += step


def _as_still(spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
    """A picture: every object holds still (events that need motion would make captions untrue)."""
    spec = SceneSpec.from_dict(spec.to_dict())
    if not spec.objects:
        spec.objects = [ObjectSpec() for _ in range(_pick(rng, COUNT_WEIGHTS))]
    for o in spec.objects:
        o.event, o.target, o.direction, o.speed = "still", None, None, None
    spec.camera, spec.occluder = "static", None
    if spec.light == "day_to_night":
        spec.light = "dusk"
    return spec


def _check_shape(width: int, height: int, num_frames: int, fps: float) -> None:
    if width < 8 or height < 8 or width > 4096 or height > 4096:
        raise InputError(f"size {width}x{height} is out of range; width and height must be 8..4096")
    if num_frames < 1:
        raise InputError(f"num_frames {num_frames} must be at least 1")
    if not fps > 0:
        raise InputError(f"fps {fps} must be positive")
