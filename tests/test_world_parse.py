"""Vocabulary and prompt parsing: English, Korean, unknown words, colour clashes, short-caption round trip."""

import itertools

import numpy as np
import pytest

from haneul.errors import InputError
from haneul.world import complete_spec, parse_prompt, short_caption, simulate, vocab
from haneul.world.spec import SceneSpec


def test_vocabulary_is_as_large_as_the_issue_asks():
    assert len(vocab.KINDS) >= 8 and {
        "ball",
        "box",
        "triangle",
        "star",
        "heart",
        "ring",
        "person",
        "car",
    } <= set(vocab.KINDS)
    assert len(vocab.COLOURS) == 12 and len(vocab.SIZES) == 3 and len(vocab.BACKGROUNDS) >= 8
    assert len(vocab.DIRECTIONS) == 8 and set(vocab.OCCLUDERS) == {"wall", "tree", "box"}
    for table in (vocab.KINDS, vocab.COLOUR_WORDS, vocab.EVENTS, vocab.SIZE_WORDS):
        assert all(words.en and words.ko for words in table.values())


def test_object_colours_are_far_apart_and_every_background_leaves_most_colours():
    for a, b in itertools.combinations(vocab.COLOURS, 2):
        assert vocab.colour_distance(vocab.COLOURS[a], vocab.COLOURS[b]) > 39, (a, b)
    for bg in vocab.BACKGROUNDS:
        assert len(vocab.allowed_colours(bg)) >= 9, bg
    assert (
        vocab.clashes("green", "grass")
        and vocab.clashes("white", "snow")
        and not vocab.clashes("red", "grass")
    )


def test_english_prompt():
    spec = parse_prompt("A big red ball bounces on green grass at night while the camera pans left")
    (o,) = spec.objects
    assert (o.kind, o.colour, o.size, o.event) == ("ball", "red", "large", "bounce")
    assert (spec.background, spec.light, spec.camera) == ("grass", "night", "pan_left")
    assert o.speed is None and o.position is None  # left open for complete_spec


def test_two_objects_relation_and_collision():
    spec = parse_prompt("a red ball to the left of a blue box")
    assert [o.colour for o in spec.objects] == ["red", "blue"]
    assert [(r.a, r.relation, r.b) for r in spec.relations] == [(0, "left_of", 1)]
    spec = parse_prompt("a small yellow star collides with a large purple heart")
    assert [o.event for o in spec.objects] == ["collide", "collide"]
    assert spec.objects[0].target == 1 and spec.objects[1].target == 0


def test_motion_words_and_occluder():
    spec = parse_prompt("two cyan triangles move up and to the right quickly")
    assert len(spec.objects) == 2 and all(
        o.direction == "up_right" and o.speed == "fast" for o in spec.objects
    )
    spec = parse_prompt("a pink car passes behind a tree on the sand")
    assert spec.objects[0].event == "pass_behind" and spec.occluder == "tree" and spec.background == "sand"
    spec = parse_prompt("an orange heart enters from the left")
    assert spec.objects[0].event == "enter" and spec.objects[0].direction == "right"


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("빨간 공이 잔디 위에서 튄다", [("ball", "red", "bounce")]),
        ("파란 별이 왼쪽으로 빠르게 움직인다", [("star", "blue", "move")]),
        ("빨간 공과 파란 상자가 부딪친다", [("ball", "red", "collide"), ("box", "blue", "collide")]),
        ("작은 노란 공이 나무 뒤로 지나간다", [("ball", "yellow", "pass_behind")]),
        ("분홍 하트가 점점 커진다 밤에", [("heart", "pink", "grow")]),
    ],
)
def test_korean_prompts(prompt, expected):
    spec = parse_prompt(prompt)
    assert [(o.kind, o.colour, o.event) for o in spec.objects] == expected


def test_korean_details():
    spec = parse_prompt("파란 별이 빨간 공을 따라간다, 카메라가 오른쪽으로 패닝한다")
    assert spec.objects[0].event == "follow" and spec.objects[0].target == 1 and spec.camera == "pan_right"
    spec = parse_prompt("빨간 공 왼쪽에 파란 상자가 있다")
    assert [(r.a, r.relation, r.b) for r in spec.relations] == [(1, "left_of", 0)]
    assert parse_prompt("작은 노란 공이 나무 뒤로 지나간다").occluder == "tree"


def test_unknown_word_lists_the_vocabulary():
    with pytest.raises(InputError) as e:
        parse_prompt("a red dragon flies over the castle")
    message = str(e.value)
    assert "'dragon'" in message and "'castle'" in message
    assert "kinds: ball" in message and "colours: red" in message and "backgrounds:" in message


def test_bad_prompts_raise_input_error():
    with pytest.raises(InputError, match="would not stand out"):
        parse_prompt("a green ball on green grass")
    with pytest.raises(InputError, match="empty"):
        parse_prompt("   ")
    with pytest.raises(InputError, match="1 to 4"):
        parse_prompt("three red balls and two blue boxes")


@pytest.mark.parametrize("korean", [False, True])
def test_short_caption_round_trip(korean):
    """Every short caption parses back to the same kinds, colours and events (150 random scenes)."""
    for seed in range(150):
        rng = np.random.default_rng(seed)
        scene = simulate(complete_spec(SceneSpec(), rng), 128, 96, 12, 8.0, seed)
        text = short_caption(scene.spec, rng, korean=korean)
        parsed = parse_prompt(text)
        want = sorted((o.kind, o.colour, o.event) for o in scene.spec.objects)
        got = sorted((o.kind, o.colour, o.event) for o in parsed.objects)
        assert got == want, text


def test_complete_spec_keeps_what_was_said_and_fills_the_rest():
    spec = parse_prompt("a red ball bounces")
    for seed in range(20):
        full = complete_spec(spec, np.random.default_rng(seed))
        assert full.is_complete()
        assert (full.objects[0].kind, full.objects[0].colour, full.objects[0].event) == (
            "ball",
            "red",
            "bounce",
        )
        assert not vocab.clashes("red", full.background)
    a = complete_spec(SceneSpec(), np.random.default_rng(3))
    assert a == complete_spec(SceneSpec(), np.random.default_rng(3))
    for seed in range(100):  # random scenes never clash and never pick a colour twice when there is a choice
        full = complete_spec(SceneSpec(), np.random.default_rng(seed))
        colours = [o.colour for o in full.objects]
        assert len(set(colours)) == len(colours)
        assert not any(vocab.clashes(c, full.background, full.occluder) for c in colours)


def test_counts_positions_and_groups():
    spec = parse_prompt("공 두 개가 굴러간다")
    assert [(o.kind, o.event) for o in spec.objects] == [("ball", "roll")] * 2
    assert len(parse_prompt("빨간 공 세 개와 파란 상자가 있다").objects) == 4
    spec = parse_prompt("a ball on the left and a box on the right")
    assert [o.position for o in spec.objects] == ["left", "right"]
    spec = parse_prompt("a red ball and a blue box move left")
    assert all(o.event == "move" and o.direction == "left" for o in spec.objects)
    spec = parse_prompt("three red balls collide")
    assert [o.target for o in spec.objects] == [1, 0, None]  # the third one gets a partner in complete_spec
    full = complete_spec(spec, np.random.default_rng(0))
    assert len(full.objects) == 4 and all(o.event == "collide" for o in full.objects)
