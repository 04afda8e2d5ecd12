"""Detection: kinds from the world's outlines, colours under every light, backdrops, and frames drawn here."""

import cv2
import numpy as np
import pytest

from haneul.eval import detect
from haneul.world import render_clip, vocab


def _detections(frames):
    light = detect.estimate_light(frames)
    table = detect.colour_table(tuple(detect.allowed_colours(light.background, None)), light.background)
    return light, [detect.detect_frame(f, i, light.gains[i], table) for i, f in enumerate(frames)]


@pytest.mark.parametrize("kind", list(vocab.KINDS))
def test_every_kind_is_recognised_at_every_size_and_angle(kind):
    for size in ("small", "large"):
        clip = render_clip(f"a {size} red {kind} spins quickly on a white background", 128, 128, 8, 8, 1)
        _, dets = _detections(clip.frames)
        kinds = [d.kind for frame in dets for d in frame if not d.partial]
        assert len(kinds) >= 6, (kind, size, kinds)
        assert kinds.count(kind) / len(kinds) >= 0.85, (kind, size, kinds)


@pytest.mark.parametrize("light", ["", "at dusk", "at night", "as day turns to night"])
def test_colours_are_named_under_every_light(light):
    for colour in vocab.allowed_colours("sand"):
        clip = render_clip(f"a {colour} ball stays still on the sand {light}", 96, 96, 9, 8, 2)
        _, dets = _detections(clip.frames[::4])
        assert all(len(d) == 1 and d[0].colour == colour for d in dets), (colour, light, dets)


@pytest.mark.parametrize("background", list(vocab.BACKGROUNDS))
def test_backdrop_is_found(background):
    words = vocab.BACKGROUNDS[background].words.en[0]
    clip = render_clip(f"a red ball stays still on the {words}", 128, 128, 4, 8, 3)
    light = detect.estimate_light(clip.frames)
    assert light.background == background
    assert light.complete[background]
    assert all(background in c for c in light.consistent)


def test_shapes_drawn_with_opencv():
    """Frames drawn here, not by the world: centres are exact and kinds come from the outline alone."""
    frame = np.full((128, 128, 3), 238, np.uint8)  # the white backdrop
    cv2.circle(frame, (30, 40), 12, vocab.COLOURS["blue"], -1, cv2.LINE_AA)
    cv2.rectangle(frame, (70, 20), (95, 45), vocab.COLOURS["red"], -1)
    cv2.circle(frame, (40, 95), 14, vocab.COLOURS["green"], 6, cv2.LINE_AA)  # a ring
    star = [
        (95 + r * np.cos(a), 95 + r * np.sin(a))
        for k in range(10)
        for a, r in [(-np.pi / 2 + k * np.pi / 5, 16 if k % 2 == 0 else 7)]
    ]
    cv2.fillPoly(frame, [np.round(np.array(star)).astype(np.int32)], vocab.COLOURS["yellow"], cv2.LINE_AA)
    light, [dets] = _detections(frame[None])
    assert light.background == "white"
    found = {d.colour: d for d in dets}
    assert set(found) == {"blue", "red", "green", "yellow"}
    assert (
        found["blue"].kind == "ball" and abs(found["blue"].x - 30) < 0.5 and abs(found["blue"].y - 40) < 0.5
    )
    assert found["red"].kind == "box" and abs(found["red"].x - 82.5) < 0.5
    assert found["green"].kind == "ring"
    assert found["yellow"].kind == "star"


def test_edge_blends_are_not_objects():
    """A blue box on sand: its anti-aliased rim blends toward gray, which must not count as a gray object."""
    clip = render_clip("a blue box moves to the right slowly on the sand", 128, 128, 16, 8, 0)
    _, dets = _detections(clip.frames)
    assert all([d.colour for d in frame] == ["blue"] for frame in dets)


def test_split_object_is_one_partial_detection():
    frame = np.full((128, 128, 3), 238, np.uint8)
    cv2.circle(frame, (64, 64), 14, vocab.COLOURS["red"], -1, cv2.LINE_AA)
    frame[:, 63:66] = (70, 80, 98)  # a thin post in front splits the ball in two
    _, [dets] = _detections(frame[None])
    assert len(dets) == 1 and dets[0].partial and abs(dets[0].x - 64) < 1.0
