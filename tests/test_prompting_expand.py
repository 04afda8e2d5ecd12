"""The built-in world expander: deterministic, keeps what the prompt says (EN and KO, read back from the
caption), reports unknown words, falls back honestly; Pipeline.generate expands, moderates and records."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from haneul.errors import InputError, ModerationBlocked
from haneul.prompting import Expansion, WorldExpander, expand_prompt, model_expander
from haneul.prompting.expand import split_unknown
from haneul.world import captions, parse_prompt

STANDARD = Path(__file__).parents[1] / "src/haneul/eval/prompts/world_standard.jsonl"
KINDS_BY_NAME = {
    captions.KIND_NAMES.get(k, k): k
    for k in ("ball", "box", "triangle", "star", "heart", "ring", "person", "car")
}
EVENT_WORDS = [  # (caption wording, event), most specific first: the caption has one sentence shape per event
    ("passes behind", "pass_behind"),
    ("and hits", "collide"),
    ("leaves the frame", "exit"),
    ("enters", "enter"),
    ("follows", "follow"),
    ("bounces", "bounce"),
    ("rolls", "roll"),
    ("along the ground", "roll"),  # a car 'drives along the ground'
    ("spins", "rotate"),
    ("grows", "grow"),
    ("shrinks", "shrink"),
    ("stays still", "still"),
    ("moves", "move"),
]


def read_caption(caption: str) -> dict:
    """Read a world detailed caption back into facts (its sentence shapes are fixed, see world/captions.py)."""
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z])", caption)
    count = ["One", "Two", "Three", "Four"].index(sentences[0].split()[0]) + 1
    background = next(k for k, v in captions.BACKGROUND_NAMES.items() if f" on {v}" in sentences[0])
    light = next(k for k, v in captions.LIGHT_NAMES.items() if v in sentences[0])
    camera = next((k for k, v in captions.CAMERA_NAMES.items() if v in sentences), None)
    objects = []
    for s in sentences:
        m = re.match(r"An? (small|medium|large) (\w+) (\w+)", s)
        if m:
            event = next((e for words, e in EVENT_WORDS if words in s), None)
            objects.append({"size": m[1], "colour": m[2], "kind": KINDS_BY_NAME[m[3]], "event": event})
    return {"count": count, "background": background, "light": light, "camera": camera, "objects": objects}


def assert_keeps(prompt: str, expansion: Expansion) -> None:
    """Everything the prompt states (per object: kind, colour, size, event; scene: background, camera, light)."""
    stated, read = parse_prompt(prompt), read_caption(expansion.caption)
    assert read["count"] == len(read["objects"]) >= len(stated.objects), expansion.caption
    for said, got in zip(
        stated.objects, read["objects"][: len(stated.objects)], strict=True
    ):  # stated objects keep their order
        for key in ("kind", "colour", "size", "event"):
            if getattr(said, key) is not None:
                assert got[key] == getattr(said, key), (prompt, key, expansion.caption)
    for key in ("background", "camera", "light"):
        if getattr(stated, key) is not None:
            assert read[key] == getattr(stated, key), (prompt, key, expansion.caption)


@pytest.mark.parametrize(
    "prompt",
    [
        "a red ball bounces on green grass",
        "two blue stars collide at night",
        "three small yellow boxes spin slowly on a white background",
        "a large pink heart grows while the camera zooms in",
        "a purple car drives left on the sand at dusk",
        "a cyan ball passes behind a tree",
        "빨간 공이 잔디 위에서 튄다",
        "파란 상자 두 개가 부딪친다",
        "노란 별이 천천히 커진다",
        "분홍 하트가 밤하늘에서 회전한다",
    ],
)
def test_expansion_keeps_what_the_prompt_says(prompt):
    expansion = expand_prompt(prompt, seed=5)
    assert expansion.source == "builtin" and expansion.unknown_words == [] and expansion.warnings == []
    assert expansion.caption.isascii()  # Korean prompts become English captions (MiniLM is English-only)
    assert_keeps(prompt, expansion)


def test_standard_set_short_prompts_keep_their_facts():
    """Every 6th prompt of the benchmark's standard set (EN and KO), at its own size, duration and seed."""
    if not STANDARD.is_file():
        pytest.skip("the standard prompt set is not written yet")
    rows = [json.loads(line) for line in STANDARD.read_text().splitlines() if line.strip()][::6]
    assert any(r.get("lang") == "ko" for r in rows)
    for r in rows:
        frames = 1 + 4 * int(np.ceil(r["seconds"] * r["fps"] / 4))
        e = expand_prompt(
            r["prompt"], r["seed"], width=r["width"], height=r["height"], num_frames=frames, fps=r["fps"]
        )
        assert e.source == "builtin", (r["prompt"], e.warnings)
        assert_keeps(r["prompt"], e)


def test_same_seed_same_caption_and_seeds_fill_differently():
    a = [expand_prompt("a ball", seed=s).caption for s in range(6)]
    assert a == [expand_prompt("a ball", seed=s).caption for s in range(6)]
    assert len(set(a)) >= 4  # the open choices (colour, size, event, background ...) vary with the seed


def test_caption_is_the_worlds_training_caption_for_that_scene():
    """Same seed and shape as `haneul world render`: the model sees exactly the caption it was trained on."""
    from haneul.world import render_clip

    clip = render_clip("a red ball rolls right", 160, 96, 33, 8.0, 11)
    e = expand_prompt("a red ball rolls right", 11, width=160, height=96, num_frames=33, fps=8.0)
    assert e.caption == clip.caption
    assert "4.0 s" not in e.caption and "roll" in e.caption


def test_unknown_words_are_reported_and_the_rest_is_expanded():
    e = expand_prompt("a fluffy red ball bounces on green grass, cinematic 4k", seed=1)
    assert e.unknown_words == ["fluffy", "cinematic", "4k"]
    assert e.source == "builtin" and "'fluffy'" in e.warnings[0]
    assert_keeps("a red ball bounces on green grass", e)
    ko = expand_prompt("빨간 공과 강아지가 튄다", seed=1)
    assert ko.unknown_words == ["강아지가"] and ko.source == "builtin"


def test_split_unknown_keeps_multiword_phrases():
    known, unknown = split_unknown("A dragon moves to the left of a box in the night sky!")
    assert unknown == ["dragon"]
    assert known == "a moves to the left of a box in the night sky"


@pytest.mark.parametrize(
    "prompt,reason",
    [
        ("cinematic 4k masterpiece", "nothing in the prompt"),
        ("a dragon flies over the castle", "has no object before it"),
        ("a green ball on green grass", "would not stand out"),
    ],
)
def test_falls_back_to_the_prompt_and_says_why(prompt, reason):
    e = expand_prompt(prompt, seed=0)
    assert e.source == "fallback" and e.caption == prompt
    assert reason in e.warnings[-1]


def test_empty_prompt_is_an_input_error():
    with pytest.raises(InputError, match="empty"):
        expand_prompt("   ")


def test_model_expander_from_haneul_json_field():
    class Spec:
        expander = "world"

    assert isinstance(model_expander(Spec), WorldExpander)
    Spec.expander = ""
    assert model_expander(Spec) is None
    Spec.expander = "gpt"
    with pytest.raises(InputError, match="unknown expander 'gpt'"):
        model_expander(Spec)


# ---- Pipeline.generate -------------------------------------------------------------------------------------


def test_generate_expands_by_default_and_not_with_expand_false(tiny_pipe):
    assert tiny_pipe.expander is None  # the tiny model's haneul.json has no "expander": prompts pass as typed
    tiny_pipe.expander = WorldExpander()
    seen = []  # what the text encoder is asked to encode (a spy around the real encoder)
    encode = tiny_pipe.text_encoder.encode
    tiny_pipe.text_encoder.encode = lambda prompts: seen.append(list(prompts)) or encode(prompts)
    try:
        args = dict(num_frames=5, num_steps=2, seed=3)
        on = tiny_pipe.generate("빨간 공이 튄다 강아지", **args)
        off = tiny_pipe.generate("빨간 공이 튄다 강아지", expand=False, **args)
    finally:
        tiny_pipe.expander = None
        del tiny_pipe.text_encoder.encode
    want = expand_prompt("빨간 공이 튄다 강아지", 3, width=64, height=64, num_frames=5, fps=8.0)
    assert on.caption == on.metadata["caption"] == want.caption and on.prompt == "빨간 공이 튄다 강아지"
    assert on.metadata["expansion"]["unknown_words"] == ["강아지"]
    assert off.caption == off.prompt and off.metadata["expansion"] is None
    assert [want.caption] in seen and [
        "빨간 공이 튄다 강아지"
    ] in seen  # the model saw the caption, or the prompt


def test_generate_moderates_the_expanded_caption(tiny_pipe):
    class Leaky:  # an expander (e.g. an LLM) that writes something the policy refuses
        def expand(self, prompt, seed=0, **shape):
            return Expansion("a naked woman posing on a bed", [], "llm", [])

    tiny_pipe.expander = Leaky()
    try:
        with pytest.raises(ModerationBlocked):
            tiny_pipe.generate("a red ball", num_frames=5, num_steps=1)
    finally:
        tiny_pipe.expander = None
