"""The procedural world: a vocabulary, scene specs parsed from prompts, physics, rendering, ground truth,
captions, and data sets for training (`haneul world render|export`, `iter_world_clips`)."""

from haneul.world.parse import parse_prompt
from haneul.world.spec import ObjectSpec, Relation, SceneSpec

__all__ = ["ObjectSpec", "Relation", "SceneSpec", "parse_prompt"]
