"""Every prompt kind through the tiny model: lengths, given frames kept, stitching, CLI flags and errors."""

import numpy as np
import pytest
from typer.testing import CliRunner

from haneul import modes
from haneul.cli import app
from haneul.errors import InputError
from haneul.video_io import read_video, write_image, write_video

runner = CliRunner()


def clip(n, w=64, h=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8)


def test_image_to_video_start_and_end(tiny_pipe):
    image = clip(1)[0]
    start = modes.image_to_video(tiny_pipe, "a ball", image, num_frames=9, num_steps=2, seed=1)
    other = modes.image_to_video(tiny_pipe, "a ball", image, num_frames=9, num_steps=2, seed=2)
    assert np.array_equal(start.frames[0], other.frames[0])
    end = modes.image_to_video(tiny_pipe, "a ball", image, at_end=True, num_frames=9, num_steps=2, seed=1)
    end2 = modes.image_to_video(tiny_pipe, "a ball", image, at_end=True, num_frames=9, num_steps=2, seed=2)
    assert end.frames.shape == (9, 64, 64, 3)
    assert not np.array_equal(end.frames[0], end2.frames[0])


@pytest.mark.parametrize("backward", [False, True])
def test_extend_keeps_input_and_adds_frames(tiny_pipe, backward):
    source = clip(13)
    out = modes.extend(tiny_pipe, "a ball", source, seconds=1.0, backward=backward, num_steps=2)
    assert len(out.frames) == 13 + 8
    kept = out.frames[-13:] if backward else out.frames[:13]
    # The frames given as context (8 backward, 9 forward) fade into the model's decode of them; the rest
    # of the input is kept exactly.
    context = 8 if backward else 9
    far = slice(context, None) if backward else slice(None, 13 - context)
    near = slice(None, context) if backward else slice(13 - context, None)
    assert np.array_equal(kept[far], source[far])
    assert not np.array_equal(kept[near], source[near])


def test_crossfade_goes_from_a_to_b():
    a = np.zeros((3, 2, 2, 3), np.uint8)
    b = np.full((3, 2, 2, 3), 200, np.uint8)
    faded = modes.crossfade(a, b)
    assert faded[:, 0, 0, 0].tolist() == [50, 100, 150]  # w = 1/4, 2/4, 3/4: neither end repeated
    with pytest.raises(ValueError, match="same shape"):
        modes.crossfade(a, b[:2])


def test_join_seams_fade_between_clips_and_transition(tiny_pipe):
    a, b = clip(13, seed=3), clip(13, seed=4)
    out = modes.join(tiny_pipe, "a ball", a, b, seconds=1.0, num_steps=2)
    assert len(out.frames) == 13 + 8 + 13
    assert np.array_equal(out.frames[:4], a[:4]) and np.array_equal(out.frames[-5:], b[-5:])
    assert not np.array_equal(out.frames[4:13], a[4:]) and not np.array_equal(out.frames[21:29], b[:8])


@pytest.mark.parametrize("backward", [False, True])
def test_extend_starts_from_a_guessed_continuation(tiny_pipe, monkeypatch, backward):
    calls = record_generate_calls(tiny_pipe, monkeypatch)
    source = clip(13)
    modes.extend(tiny_pipe, "a ball", source, seconds=1.0, backward=backward, num_steps=2)
    ((kwargs, _),) = calls
    prior = kwargs["init_video"]
    assert kwargs["strength"] == modes.PRIOR_STRENGTH and len(prior) == kwargs["num_frames"] == 17
    if backward:  # the input's first frames carried backward over the new frames, then the context itself
        assert np.array_equal(prior[-8:], source[:8])
        assert np.array_equal(prior[:9], modes.extrapolate_back(source[:8], 9))
    else:
        assert np.array_equal(prior[:9], source[-9:])
        assert np.array_equal(prior[9:], modes.extrapolate(source[-9:], 8))
    modes.extend(tiny_pipe, "a ball", source, seconds=1.0, backward=backward, num_steps=2, prior_strength=1.0)
    assert "init_video" not in calls[1][0] and "strength" not in calls[1][0]  # 1.0: pure noise, as before
    with pytest.raises(InputError, match="prior_strength"):
        modes.extend(tiny_pipe, "a ball", source, num_steps=1, prior_strength=0.0)


def test_still_prior_pulls_the_new_frames_towards_the_held_frame(tiny_pipe):
    # A still source: the weaker the prior strength, the nearer the new frames stay to the held frame
    # (the tiny model's random weights move them anyway; without the prior all three would be equal).
    source = np.repeat(clip(1, seed=5), 13, axis=0)

    def distance(strength: float) -> float:
        out = modes.extend(
            tiny_pipe, "a ball", source, seconds=1.0, num_steps=4, seed=2, prior_strength=strength
        )
        return float(np.abs(out.frames[13:].astype(np.float32) - out.frames[12].astype(np.float32)).mean())

    weak, half, none = distance(0.05), distance(0.5), distance(1.0)
    assert weak < half < none and weak < 0.7 * none


def moving_square(n: int, step: int, light: float = 0.0) -> np.ndarray:
    """A red square moving right by `step` px per frame on green, the light rising by `light` per frame."""
    frames = np.zeros((n, 64, 64, 3), dtype=np.float32)
    frames[..., 1] = 120
    for i in range(n):
        frames[i, 24:40, 8 + step * i : 24 + step * i] = (220, 30, 30)
    return np.clip(frames + light * np.arange(n)[:, None, None, None], 0, 255).astype(np.uint8)


def centre_x(frame: np.ndarray) -> float:
    return float(np.nonzero(frame[..., 0] > 150)[1].mean())


def test_extrapolate_carries_motion_and_light_on():
    frames = moving_square(8, step=2, light=1.0)
    future = modes.extrapolate(frames, 6)
    truth = moving_square(14, step=2, light=1.0)[8:]
    xs = [centre_x(f) for f in future]
    assert all(
        abs(x - centre_x(t)) <= 2.5 for x, t in zip(xs, truth, strict=True)
    )  # held: 12 px off at the end
    assert abs(float(future[-1, :8, 40:, 1].mean()) - float(truth[-1, :8, 40:, 1].mean())) <= 1.5
    past = modes.extrapolate_back(frames, 4)
    assert centre_x(past[0]) < centre_x(past[-1]) < centre_x(frames[0])  # what came before: further left
    still = np.repeat(frames[:1], 5, axis=0)
    assert (modes.extrapolate(still, 3) == frames[0]).all()  # nothing moves: the frame held


def test_join_starts_from_a_fade_between_the_clips(tiny_pipe, monkeypatch):
    calls = record_generate_calls(tiny_pipe, monkeypatch)
    a, b = clip(13, seed=3), clip(13, seed=4)
    modes.join(tiny_pipe, "a ball", a, b, seconds=1.0, num_steps=2)
    ((kwargs, _),) = calls
    prior = kwargs["init_video"]
    assert np.array_equal(prior[:9], a[-9:]) and np.array_equal(prior[-8:], b[:8])
    bridge = modes.crossfade(modes.extrapolate(a[-9:], 8), modes.extrapolate_back(b[:8], 8))
    assert np.array_equal(prior[9:17], bridge)


def test_colour_start_paints_the_prompts_colour_on_the_object_only():
    from haneul.world import render_clip, vocab

    frames = render_clip("a red ball rolls right on green grass", 64, 64, 5, 8.0, 0).frames
    painted = modes.colour_start(frames, "a blue ball rolls right on green grass")
    red = modes._palette_distance(frames)[..., list(vocab.COLOURS).index("red")] < 20
    blue = modes._palette_distance(painted)[..., list(vocab.COLOURS).index("blue")] < 20
    assert red.mean() > 0.002 and (blue & red).mean() > 0.8 * red.mean()  # the ball turned blue
    far = modes._palette_distance(frames)[..., list(vocab.COLOURS).index("red")] > 32
    assert np.array_equal(painted[far], frames[far])  # the grass is untouched
    # nothing to do: the colour is there already, the prompt is outside the world's words, two colours
    for prompt in ("a red ball rolls right on green grass", "a cat on a sofa", "a blue ball and a pink box"):
        assert modes.colour_start(frames, prompt) is frames


def test_colour_start_leaves_scattered_pixels_alone():
    from haneul.world import vocab

    rng = np.random.default_rng(0)
    frames = np.tile(np.uint8(vocab.COLOURS["green"]), (3, 64, 64, 1))
    ys, xs = rng.integers(0, 64, 40), rng.integers(0, 64, 40)  # 1% of the pixels, one here, one there
    frames[:, ys, xs] = vocab.COLOURS["red"]
    assert modes.colour_start(frames, "a blue ball rolls right on green grass") is frames
    frames[:, 20:30, 20:30] = vocab.COLOURS["red"]  # the same colour as one object: painted
    painted = modes.colour_start(frames, "a blue ball rolls right on green grass")
    assert (painted[:, 25, 25] == vocab.COLOURS["blue"]).all()


def test_edit_is_painted_but_extension_is_not(tiny_pipe, monkeypatch):
    seen = []

    def spy(frames, prompt):
        seen.append(prompt)
        return frames

    monkeypatch.setattr(modes, "colour_start", spy)
    source = clip(9)
    tiny_pipe.generate("a blue ball", init_video=source, strength=0.5, num_frames=9, num_steps=1)
    assert seen == ["a blue ball"]
    tiny_pipe.generate("a blue ball", init_video=source, strength=0.5, num_steps=1, recolour=False)
    modes.extend(tiny_pipe, "a blue ball", source, seconds=1.0, num_steps=1)  # its prior is a guess, kept
    assert seen == ["a blue ball"]


def test_keyframes_fill_the_gap(tiny_pipe):
    a, b = clip(1, seed=1)[0], clip(1, seed=2)[0]
    out = modes.keyframes(tiny_pipe, "a ball", [(a, 0.0), (b, 2.0)], fps=8, num_steps=2)
    assert len(out.frames) == 17


def record_generate_calls(pipe, monkeypatch) -> list:
    """Make pipe.generate record (kwargs, frames) of each call; returns the list it fills."""
    calls = []
    generate = pipe.generate

    def spy(prompt, **kwargs):
        out = generate(prompt, **kwargs)
        calls.append((kwargs, out.frames))
        return out

    monkeypatch.setattr(pipe, "generate", spy)
    return calls


def test_loop_end_is_conditioned_on_its_start(tiny_pipe, monkeypatch):
    calls = record_generate_calls(tiny_pipe, monkeypatch)
    looped = modes.loop(tiny_pipe, "a ball", num_frames=9, num_steps=2, seed=3)
    # 1 s at 8 fps: 8 frames, the 9th would be the first again
    assert len(looped.frames) == 8 and looped.metadata["num_frames"] == 8
    (_, opening), (second, made) = calls
    start, end = second["conditions"]
    assert start.frame_index == 0 and np.array_equal(start.frames, opening[:5])
    assert end.frame_index == 9 and np.array_equal(end.frames, opening[1:9])  # right after the loop
    # made[12] is the end's decode of the opening's frame 4, which made[4] (the loop's start) also shows:
    # the first frame fades from one into the other, so the last frame's next step is made[11] -> made[12]
    assert np.array_equal(looped.frames[0], modes.crossfade(made[12:13], made[4:5])[0])
    assert np.array_equal(looped.frames[1:], made[5:12])
    with pytest.raises(InputError, match="at least 1s"):
        modes.loop(tiny_pipe, "a ball", num_frames=5, num_steps=1)


def test_longer_loop_fades_over_the_frames_given_at_both_ends(tiny_pipe, monkeypatch):
    calls = record_generate_calls(tiny_pipe, monkeypatch)
    looped = modes.loop(tiny_pipe, "a ball", num_frames=13, num_steps=2, seed=3)
    assert len(looped.frames) == 12
    (_, opening), (second, made) = calls
    start, end = second["conditions"]
    # three latent frames given at the start (frames 0..8), so frames 4..8 are given at both ends
    assert start.frame_index == 0 and np.array_equal(start.frames, opening)
    assert end.frame_index == 13 and np.array_equal(end.frames, opening[1:9])
    assert np.array_equal(looped.frames[:5], modes.crossfade(made[16:21], made[4:9]))
    assert np.array_equal(looped.frames[5:], made[9:16])


def test_storyboard_is_one_continuous_video(tiny_pipe):
    shots = [modes.Shot("a red ball", 1.0), modes.Shot("the red ball rolls", 1.0)]
    out = modes.storyboard(tiny_pipe, shots, num_steps=2)
    assert len(out.frames) == 9 + 8
    assert out.metadata["mode"] == "storyboard"


def test_cli_modes_end_to_end(tmp_path, tiny_model_dir):
    still, source = tmp_path / "still.png", tmp_path / "source.mp4"
    write_image(still, clip(1, w=80, h=80)[0])  # not on the grid: cropped/resized with a note
    write_video(source, clip(9), fps=8)
    base = ["--model", tiny_model_dir, "--steps", "1", "-q"]
    cases = [
        (["--image", still, "--seconds", "1"], 9),
        (["--extend", source, "--seconds", "1"], 17),
        (["--extend", source, "--backward", "--seconds", "1"], 17),
        (["--keyframe", f"{still}@0", "--keyframe", f"{still}@1"], 9),
        (["--edit", source, "--strength", "0.5"], 9),
        (["--loop", "--seconds", "1"], 8),
    ]
    for i, (args, frames) in enumerate(cases):
        out = tmp_path / f"out{i}.mp4"
        result = runner.invoke(app, ["generate", "a ball", "-o", str(out), *map(str, args + base)])
        assert result.exit_code == 0, (args, result.output)
        assert len(read_video(out)[0]) == frames, args
    result = runner.invoke(
        app, ["generate", "a ball", "-o", str(tmp_path / "i.mp4"), "--image", str(still), *map(str, base)]
    )
    assert "resized to 64x64" in result.output


def test_cli_join_and_storyboard(tmp_path, tiny_model_dir):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    write_video(a, clip(9, seed=1), fps=8)
    write_video(b, clip(9, seed=2), fps=8)
    out = tmp_path / "joined.mp4"
    result = runner.invoke(
        app, ["join", str(a), str(b), "-o", str(out), "--model", str(tiny_model_dir), "--steps", "1", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert len(read_video(out)[0]) == 26
    board = tmp_path / "board.yaml"
    board.write_text(
        "shots:\n  - prompt: a red ball\n    seconds: 1\n  - prompt: it rolls\n    seconds: 1\n    video: a.mp4\n"
    )
    out = tmp_path / "board.mp4"
    result = runner.invoke(
        app, ["storyboard", str(board), "-o", str(out), "--model", str(tiny_model_dir), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert len(read_video(out)[0]) == 9 + 17


def test_cli_mode_errors(tmp_path, tiny_model_dir):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    still = tmp_path / "s.png"
    write_image(still, clip(1)[0])
    base = ["--model", str(tiny_model_dir), "-q"]
    cases = [
        (["--image", str(tmp_path / "missing.png")], "does not exist"),
        (["--extend", str(junk)], "cannot read"),
        (["--image", str(still), "--loop"], "choose one"),
        (["--keyframe", "s.png"], "FILE@SECONDS"),
        (["--backward"], "--extend"),
        (["--image", str(still), "--image-at", "middle"], "start or end"),
    ]
    for args, match in cases:
        out = tmp_path / "o.mp4"
        result = runner.invoke(app, ["generate", "a ball", "-o", str(out), *args, *base])
        assert result.exit_code == 2, (args, result.output)
        assert match in result.output, (args, result.output)
        assert not out.exists()
    board = tmp_path / "b.yaml"
    board.write_text("shots: []\n")
    result = runner.invoke(app, ["storyboard", str(board), "-o", str(tmp_path / "b.mp4"), *base])
    assert result.exit_code == 2 and "shots" in result.output
