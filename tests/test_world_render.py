"""Rendering and ground truth: determinism, every kind/colour/background, truth agrees with the pixels."""

import json

import numpy as np
import pytest

from haneul.world import render_clip, vocab
from haneul.world.spec import ObjectSpec, SceneSpec


def _still(kind="ball", colour="red", background="white", size="large", **scene) -> SceneSpec:
    scene = {"camera": "static", "light": "day", **scene}
    return SceneSpec(
        [ObjectSpec(kind, colour, size, event="still", position="centre")], background=background, **scene
    )


def _inside_point(obj: dict) -> tuple[int, int]:
    """A pixel inside the object's fill: the centre, or on the band of a ring (its centre is the hole)."""
    x, y = obj["centre"]
    if obj["kind"] == "ring":
        x += 0.78 * (obj["box"][2] - obj["box"][0]) / 2
    return int(round(x)), int(round(y))


def test_same_seed_same_clip_other_seed_other_clip():
    a = render_clip(None, 128, 96, 8, 8.0, seed=11)
    b = render_clip(None, 128, 96, 8, 8.0, seed=11)
    c = render_clip(None, 128, 96, 8, 8.0, seed=12)
    assert np.array_equal(a.frames, b.frames) and a.truth == b.truth and a.caption == b.caption
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize(
    "width, height, frames, fps",
    [(128, 128, 5, 8.0), (192, 64, 3, 24.0), (50, 90, 2, 2.5), (320, 180, 1, 8.0)],
)
def test_any_size_frame_count_and_fps(width, height, frames, fps):
    clip = render_clip("a blue star moves right", width, height, frames, fps, seed=0)
    assert clip.frames.shape == (frames, height, width, 3) and clip.frames.dtype == np.uint8
    assert len(clip.truth["frames"]) == frames and clip.truth["fps"] == fps
    json.dumps(clip.truth)  # serialisable as is


@pytest.mark.parametrize("kind", list(vocab.KINDS))
def test_every_kind_renders_its_colour_at_its_centre(kind):
    clip = render_clip(_still(kind=kind, colour="blue"), 96, 96, 1, 8.0, seed=1)
    obj = clip.truth["frames"][0]["objects"][0]
    x, y = _inside_point(obj)
    assert tuple(clip.frames[0, y, x]) == vocab.COLOURS["blue"]
    assert obj["visible"] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("colour", list(vocab.COLOURS))
def test_every_colour_renders(colour):
    background = "white" if colour != "white" else "black"
    clip = render_clip(_still(colour=colour, background=background), 64, 64, 1, 8.0, seed=2)
    x, y = _inside_point(clip.truth["frames"][0]["objects"][0])
    assert tuple(clip.frames[0, y, x]) == vocab.COLOURS[colour]


@pytest.mark.parametrize("background", list(vocab.BACKGROUNDS))
def test_every_background_renders_distinctly(background):
    colour = vocab.allowed_colours(background)[0]
    clip = render_clip(_still(colour=colour, background=background, size="small"), 96, 64, 1, 8.0, seed=3)
    frame = clip.frames[0].astype(float)
    x, y = _inside_point(clip.truth["frames"][0]["objects"][0])
    assert tuple(clip.frames[0, y, x]) == vocab.COLOURS[colour]
    corner = frame[:8, :8].reshape(-1, 3).mean(0)  # the backdrop near the top left corner
    nearest = min(vocab.BACKGROUNDS[background].colours, key=lambda c: np.abs(np.array(c) - corner).sum())
    assert np.abs(np.array(nearest) - corner).max() < 40


def test_truth_box_and_visibility_follow_the_pixels():
    spec = SceneSpec(
        [ObjectSpec("box", "red", "medium", "move", "right", "fast", "right")],
        background="white",
        camera="static",
        light="day",
    )
    clip = render_clip(spec, 128, 128, 24, 8.0, seed=4)
    red = np.all(clip.frames == vocab.COLOURS["red"], axis=-1)
    for k, f in enumerate(clip.truth["frames"]):
        obj = f["objects"][0]
        x0, y0, x1, y1 = obj["box"]
        full = (x1 - x0) * (y1 - y0)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, 128), min(y1, 128)
        in_frame = max(cx1 - cx0, 0) * max(cy1 - cy0, 0) / full
        assert obj["visible"] == pytest.approx(in_frame, abs=0.06)  # a box fills its box
        ys, xs = np.nonzero(red[k])
        if obj["visible"] > 0.2:
            assert abs(xs.mean() - (cx0 + cx1) / 2) < 2 and abs(ys.mean() - (cy0 + cy1) / 2) < 2
        if obj["visible"] == 0:
            assert len(xs) == 0
    assert clip.truth["frames"][-1]["objects"][0]["visible"] == 0  # it left the frame


@pytest.mark.parametrize("occluder", ["wall", "tree", "box"])
def test_passing_behind_an_occluder_hides_the_object_and_it_comes_out(occluder):
    spec = SceneSpec(
        [ObjectSpec("star", "yellow", "medium", "pass_behind", "right", "medium", "left")],
        background="sky",
        camera="static",
        light="day",
        occluder=occluder,
    )
    clip = render_clip(spec, 160, 96, 25, 12.0, seed=5)
    vis = np.array([f["objects"][0]["visible"] for f in clip.truth["frames"]])
    assert vis[0] > 0.99 and vis[-1] > 0.99 and vis.min() == 0.0
    hidden = int(np.argmin(vis))
    assert 0 < hidden < len(vis) - 1
    yellow = np.all(np.abs(clip.frames[hidden].astype(int) - vocab.COLOURS["yellow"]) < 12, axis=-1)
    assert yellow.sum() == 0  # no yellow pixel anywhere while it is hidden
    x, y = _inside_point(clip.truth["frames"][0]["objects"][0])
    assert tuple(clip.frames[0, y, x]) == vocab.COLOURS["yellow"]


def test_light_scales_the_colours_and_is_reported():
    clip = render_clip(
        _still(colour="white", background="black", light="day_to_night"), 64, 64, 9, 4.0, seed=6
    )
    first, last = clip.truth["frames"][0], clip.truth["frames"][-1]
    assert first["light"]["name"] == "day" and last["light"]["name"] == "night"
    assert last["light"]["level"] < first["light"]["level"]
    x, y = _inside_point(last["objects"][0])
    want = np.array(vocab.COLOURS["white"]) * np.array(last["light"]["gain"])
    assert np.abs(clip.frames[-1, y, x] - want).max() <= 1


def test_camera_pan_and_zoom_move_the_view():
    pan = render_clip(_still(camera="pan_right", background="wall"), 96, 96, 9, 4.0, seed=7)
    cams = [f["camera"] for f in pan.truth["frames"]]
    assert cams[-1]["x"] > cams[0]["x"] and cams[0]["x"] == pytest.approx(48)
    xs = [f["objects"][0]["centre"][0] for f in pan.truth["frames"]]
    assert xs[-1] < xs[0] - 10  # a still object drifts left in the frame when the camera pans right
    zoom = render_clip(_still(camera="zoom_in", size="small"), 96, 96, 9, 4.0, seed=7)
    widths = [f["objects"][0]["box"][2] - f["objects"][0]["box"][0] for f in zoom.truth["frames"]]
    assert widths[-1] == pytest.approx(widths[0] * vocab.ZOOM_END, rel=0.02)


def test_random_clips_show_each_fully_visible_object_in_its_colour_at_its_centre():
    """Camera, zoom, light, rotation, scale: the truth's centre lands on the object's own colour x light gain."""
    checked = 0
    for seed in range(30):
        clip = render_clip(None, 128, 96, 8, 8.0, seed=seed)
        for k, f in enumerate(clip.truth["frames"]):
            gain = np.array(f["light"]["gain"])
            for obj in f["objects"]:
                x0, y0, x1, y1 = obj["box"]
                others = [o["box"] for o in f["objects"] if o["id"] != obj["id"]]
                if obj["visible"] < 0.999 or x1 - x0 < 10:
                    continue
                x, y = _inside_point(obj)
                if any(b[0] - 1 <= x <= b[2] + 1 and b[1] - 1 <= y <= b[3] + 1 for b in others):
                    continue  # another object may be drawn over this point
                want = np.floor(np.array(vocab.COLOURS[obj["colour"]]) * gain + 0.5)
                assert np.abs(clip.frames[k, y, x] - want).max() <= 1, (seed, k, obj)
                checked += 1
    assert checked > 300


def test_edges_are_anti_aliased():
    clip = render_clip(_still(kind="star", colour="black", background="white"), 64, 64, 1, 8.0, seed=8)
    values = set(map(tuple, clip.frames[0].reshape(-1, 3)))
    blends = [v for v in values if v not in (vocab.COLOURS["black"], vocab.BACKGROUNDS["white"].colours[0])]
    assert len(blends) > 10  # partial coverage at the outline, not a hard two-colour edge
