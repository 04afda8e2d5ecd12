"""Pipeline: every grid kind, determinism, save/load identity, request checks, windows, given frames."""

import numpy as np
import pytest
import torch

from haneul.conditioning import FrameCondition
from haneul.errors import InputError
from haneul.pipeline import Pipeline, load_pipeline, window_starts


@pytest.mark.parametrize("size,num_frames", [((64, 64), 1), ((64, 64), 9), ((96, 64), 5), ((64, 96), 17)])
def test_generate_shapes(tiny_pipe, size, num_frames):
    video = tiny_pipe.generate(
        "a red ball", width=size[0], height=size[1], num_frames=num_frames, num_steps=2
    )
    assert video.frames.shape == (num_frames, size[1], size[0], 3)
    assert video.frames.dtype == np.uint8
    assert video.metadata["num_frames"] == num_frames


def test_seconds_round_up_to_latent_frames(tiny_pipe):
    video = tiny_pipe.generate("a red ball", seconds=1.0, fps=8, num_steps=1)
    assert len(video.frames) == 9  # 8 frames per second -> 1 + 4k = 9


def test_same_seed_same_video_other_seed_differs(tiny_pipe):
    a = tiny_pipe.generate("a blue star", num_frames=5, num_steps=2, seed=7).frames
    b = tiny_pipe.generate("a blue star", num_frames=5, num_steps=2, seed=7).frames
    c = tiny_pipe.generate("a blue star", num_frames=5, num_steps=2, seed=8).frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_progress_reports_every_step(tiny_pipe):
    seen = []
    tiny_pipe.generate("a ball", num_frames=5, num_steps=4, progress=lambda s, n: seen.append((s, n)))
    assert seen[-1] == (4, 4) and len(seen) == 4


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_save_load_gives_identical_output(tmp_path, tiny_pipe, text_encoder, dtype):
    tiny_pipe.save_pretrained(tmp_path / "m", dtype=dtype)
    once = Pipeline.from_pretrained(tmp_path / "m", text_encoder=text_encoder)
    once.save_pretrained(tmp_path / "m2", dtype=dtype)
    twice = Pipeline.from_pretrained(tmp_path / "m2", text_encoder=text_encoder)
    a = once.generate("a green box", num_frames=5, num_steps=2).frames
    b = twice.generate("a green box", num_frames=5, num_steps=2).frames
    assert np.array_equal(a, b)
    if dtype == "fp32":
        c = tiny_pipe.generate("a green box", num_frames=5, num_steps=2).frames
        assert np.array_equal(a, c)
    for name, p in tiny_pipe.dit.state_dict().items():
        q = twice.dit.state_dict()[name]
        tol = 0 if dtype == "fp32" else 1e-2 * (1 + p.abs().max().item())
        assert torch.allclose(p, q, atol=tol), name


def test_size_off_grid_names_nearest(tiny_pipe):
    with pytest.raises(InputError, match=r"nearest valid: 64x64"):
        tiny_pipe.generate("a ball", width=70, height=60)
    with pytest.raises(InputError, match="grid"):
        tiny_pipe.generate("a ball", width=1024, height=1024)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"seconds": 31.0}, "over this model's limit"),
        ({"num_frames": 6}, r"1 \+ 4k"),
        ({"seconds": -1.0}, "positive"),
        ({"num_steps": 0}, "num_steps"),
        ({"sampler": "ddim"}, "sampler"),
        ({"strength": 2.0, "init_video": np.zeros((5, 64, 64, 3), np.uint8)}, "strength"),
    ],
)
def test_bad_requests(tiny_pipe, kwargs, match):
    kwargs = {"prompt": "a ball", **kwargs}
    with pytest.raises(InputError, match=match):
        tiny_pipe.generate(**kwargs)


def test_window_starts_cover_everything():
    assert window_starts(5, 9, 2) == [0]
    starts = window_starts(30, 9, 2)
    assert starts[0] == 0 and starts[-1] + 9 == 30
    assert all(b - a <= 7 for a, b in zip(starts, starts[1:], strict=False))


def test_long_video_is_made_window_by_window(tiny_pipe):
    steps = []
    video = tiny_pipe.generate("a ball", num_frames=41, num_steps=2, progress=lambda s, n: steps.append(n))
    assert video.frames.shape[0] == 41
    assert steps[-1] > 2  # more than one window was sampled


def test_long_video_caption_describes_one_window(tiny_pipe, monkeypatch):
    """Every window sees the caption, so the expander is asked for one window's length, not the minute."""
    from haneul.prompting.expand import Expansion

    asked = []

    class Recorder:
        def expand(self, prompt, seed=0, **shape):
            asked.append(shape["num_frames"])
            return Expansion(caption=prompt)

    monkeypatch.setattr(tiny_pipe, "expander", Recorder())
    tiny_pipe.generate("a ball", num_frames=41, num_steps=1)
    tiny_pipe.generate("a ball", num_frames=9, num_steps=1)
    assert asked == [tiny_pipe.spec.max_frames, 9]


def test_given_first_frame_is_held(tiny_pipe):
    """Image-to-video: the first latent frame is the image's latent at every step, so the first frame is its decode."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    a = tiny_pipe.generate(
        "a ball", num_frames=9, num_steps=2, seed=1, conditions=[FrameCondition(image[None], 0)]
    )
    b = tiny_pipe.generate(
        "a ball", num_frames=9, num_steps=2, seed=2, conditions=[FrameCondition(image[None], 0)]
    )
    assert np.array_equal(a.frames[0], b.frames[0])  # fixed by the image, not by the noise
    assert not np.array_equal(a.frames[-1], b.frames[-1])


def test_given_first_frame_decodes_to_the_vae_round_trip(tiny_pipe):
    """The given latent is kept exactly and the causal decoder decodes the first latent alone, so the first
    frame of image-to-video is exactly the image's VAE round trip (the 30 dB target of issue 5 rests on it)."""
    image = np.random.default_rng(1).integers(0, 255, (1, 64, 64, 3), dtype=np.uint8)
    out = tiny_pipe.generate("a ball", num_frames=17, num_steps=2, conditions=[FrameCondition(image, 0)])
    round_trip = tiny_pipe._decode(tiny_pipe._encode(image))[0]
    assert np.array_equal(out.frames[0], round_trip)


def test_streamed_frames_equal_held_frames(tiny_pipe):
    """on_frames gets every frame, chunk by chunk, and none are kept (memory flat for long videos)."""
    chunks = []
    streamed = tiny_pipe.generate("a ball", num_frames=41, num_steps=1, on_frames=chunks.append)
    held = tiny_pipe.generate("a ball", num_frames=41, num_steps=1)
    assert streamed.frames.shape == (0, 64, 64, 3) and len(chunks) > 1
    assert np.array_equal(np.concatenate(chunks), held.frames)


def test_edit_strength_zero_returns_input(tiny_pipe):
    video = np.random.default_rng(0).integers(0, 255, (9, 64, 64, 3), dtype=np.uint8)
    out = tiny_pipe.generate("a ball", num_frames=9, init_video=video, strength=0.0)
    assert np.array_equal(out.frames, video)


def test_load_pipeline_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_pipeline(tmp_path / "nope")
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(InputError, match="not a haneul model"):
        load_pipeline(tmp_path)
