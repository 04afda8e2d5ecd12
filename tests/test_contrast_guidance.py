"""Contrast guidance end to end: the caption with its kind words swapped is the push's other side; a caption
without such words, weight 1, or a model that does not ask for it sample as before."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from haneul.cli import app
from haneul.errors import InputError
from haneul.pipeline import Pipeline
from haneul.video_io import read_video


@pytest.fixture(scope="module")
def moved_pipe(tiny_pipe):
    """The tiny model with its transformer's weights moved off their initial values (its zero-initialised
    output would draw the same video for every caption)."""
    from haneul.testing import tiny_pipeline

    pipe = tiny_pipeline(seed=0, text_encoder=tiny_pipe.text_encoder)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in pipe.dit.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return pipe


def test_contrast_swaps_the_kind_and_changes_the_sample(moved_pipe):
    plain = moved_pipe.generate("a red ball", num_frames=1, num_steps=2, seed=3, expand=False)
    pushed = moved_pipe.generate("a red ball", num_frames=1, num_steps=2, seed=3, expand=False, contrast=3.0)
    assert plain.metadata["contrast"] == 1.0 and plain.metadata["contrast_caption"] is None
    swapped = pushed.metadata["contrast_caption"]
    assert swapped.startswith("a red ") and swapped != "a red ball"  # the kind word, and only it, swapped
    assert not np.array_equal(plain.frames, pushed.frames)
    # the swap is drawn from the seed: the same request gives the same video
    again = moved_pipe.generate("a red ball", num_frames=1, num_steps=2, seed=3, expand=False, contrast=3.0)
    assert again.metadata["contrast_caption"] == swapped
    np.testing.assert_array_equal(pushed.frames, again.frames)


def test_a_caption_without_kind_words_samples_as_without_contrast(moved_pipe):
    plain = moved_pipe.generate("waves at sunset", num_frames=1, num_steps=2, seed=1, expand=False)
    pushed = moved_pipe.generate(
        "waves at sunset", num_frames=1, num_steps=2, seed=1, expand=False, contrast=3.0
    )
    assert pushed.metadata["contrast_caption"] is None
    np.testing.assert_array_equal(plain.frames, pushed.frames)


def test_contrast_out_of_range_is_refused(tiny_pipe):
    with pytest.raises(InputError, match="contrast -1 is out of range"):
        tiny_pipe.generate("a red ball", num_frames=1, num_steps=1, contrast=-1.0)


def test_model_default_and_unknown_vocabularies(tiny_model_dir, tmp_path):
    folder = tmp_path / "contrasted"
    shutil.copytree(tiny_model_dir, folder)
    spec = json.loads((folder / "haneul.json").read_text())
    (folder / "haneul.json").write_text(json.dumps({**spec, "contrast_guidance": 2.0}))
    video = Pipeline.from_pretrained(folder).generate("a red ball", num_frames=1, num_steps=1, expand=False)
    assert video.metadata["contrast"] == 2.0 and video.metadata["contrast_caption"] is not None
    (folder / "haneul.json").write_text(json.dumps({**spec, "contrast_words": ["kind", "mood"]}))
    with pytest.raises(InputError, match="contrast_words"):
        Pipeline.from_pretrained(folder)


def test_generate_cli_takes_contrast(tiny_model_dir, tmp_path):
    out = tmp_path / "ball.mp4"
    args = ["generate", "a red ball", "--model", str(tiny_model_dir), "-o", str(out), "--seconds", "1"]
    result = CliRunner().invoke(app, [*args, "--steps", "1", "--contrast", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    frames, _ = read_video(out)
    assert len(frames) > 0
    out.unlink()
    refused = CliRunner().invoke(app, [*args, "--steps", "1", "--contrast", "-1", "--quiet"])
    assert refused.exit_code != 0 and "contrast -1 is out of range" in refused.output
    assert not out.exists()
