"""The procedural world: a vocabulary, scene specs parsed from prompts, physics, rendering, ground truth,
captions, and data sets for training (`haneul world render|export`, `iter_world_clips`).

    from haneul.world import parse_prompt, render_clip, iter_world_clips
    clip = render_clip("a red ball bounces on green grass", 128, 128, num_frames=16, fps=8, seed=0)
    clip.frames, clip.caption, clip.short_caption, clip.truth
"""

from haneul.world.captions import detailed_caption
from haneul.world.clips import WorldClip, iter_world_clips, render_clip
from haneul.world.complete import complete_spec
from haneul.world.parse import parse_prompt
from haneul.world.prompts import short_caption
from haneul.world.render import render_scene
from haneul.world.sim import Scene, simulate
from haneul.world.spec import ObjectSpec, Relation, SceneSpec

__all__ = [
    "ObjectSpec",
    "Relation",
    "Scene",
    "SceneSpec",
    "WorldClip",
    "complete_spec",
    "detailed_caption",
    "iter_world_clips",
    "parse_prompt",
    "render_clip",
    "render_scene",
    "short_caption",
    "simulate",
]
