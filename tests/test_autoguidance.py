"""Autoguidance end to end: a model directory with a guide transformer (`haneul train guide`), loading it,
sampling with it, and the requests and directories refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from haneul.cli import app
from haneul.errors import InputError
from haneul.pipeline import Pipeline
from haneul.video_io import read_video


@pytest.fixture
def guide_dir(tmp_path, tiny_model_dir):
    """The tiny model with its own transformer's weights moved as a guide (a stand-in for an older model)."""
    other = tmp_path / "older"
    shutil.copytree(tiny_model_dir, other)
    torch.manual_seed(0)
    moved = {k: v + 0.3 * torch.randn_like(v) for k, v in load_file(other / "dit/model.safetensors").items()}
    save_file(moved, other / "dit/model.safetensors", metadata={"dtype": "fp32"})
    dest = tmp_path / "guided"
    result = CliRunner().invoke(
        app, ["train", "guide", str(tiny_model_dir), str(other), str(dest), "--weight", "2.5"]
    )
    assert result.exit_code == 0, result.output
    return dest


def test_guide_command_writes_a_loadable_guided_model(guide_dir, tiny_model_dir):
    spec = json.loads((guide_dir / "haneul.json").read_text())
    assert spec["autoguidance"] == 2.5 and spec["guidance"] == 1.0
    assert (guide_dir / "dit/model.safetensors").read_bytes() == (
        tiny_model_dir / "dit/model.safetensors"
    ).read_bytes()
    pipe = Pipeline.from_pretrained(guide_dir)
    assert pipe.guide is not None and pipe.spec.autoguidance == 2.5
    a = pipe.generate("a red ball", num_frames=1, num_steps=2, seed=3)
    b = pipe.generate("a red ball", num_frames=1, num_steps=2, seed=3, autoguidance=1.0)
    assert a.metadata["autoguidance"] == 2.5 and b.metadata["autoguidance"] == 1.0
    assert not np.array_equal(a.frames, b.frames)  # the guide changes the sample
    # save_pretrained keeps the guide
    pipe.save_pretrained(guide_dir.parent / "saved", dtype="fp32")
    again = Pipeline.from_pretrained(guide_dir.parent / "saved")
    assert again.guide is not None
    c = again.generate("a red ball", num_frames=1, num_steps=2, seed=3)
    np.testing.assert_array_equal(a.frames, c.frames)


def test_autoguidance_without_a_guide_is_refused(tiny_pipe):
    with pytest.raises(InputError, match="needs a guide transformer"):
        tiny_pipe.generate("a red ball", num_frames=1, num_steps=1, autoguidance=2.0)
    with pytest.raises(InputError, match="out of range"):
        tiny_pipe.generate("a red ball", num_frames=1, num_steps=1, autoguidance=-1.0)


def test_model_asking_for_a_missing_guide_is_refused(guide_dir):
    shutil.rmtree(guide_dir / "guide")
    with pytest.raises(InputError, match="no guide/"):
        Pipeline.from_pretrained(guide_dir)


def test_guide_with_another_vae_is_refused(tmp_path, tiny_model_dir):
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    vae = load_file(other / "vae/model.safetensors")
    save_file({k: v + 1 for k, v in vae.items()}, other / "vae/model.safetensors")
    result = CliRunner().invoke(app, ["train", "guide", str(tiny_model_dir), str(other), str(tmp_path / "g")])
    assert result.exit_code != 0
    assert "another VAE encoder" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "g").exists()


def test_a_guide_whose_decoder_alone_differs_is_accepted(tmp_path, tiny_model_dir):
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    vae = load_file(other / "vae/model.safetensors")
    assert any(k.startswith("decoder.") for k in vae) and any(not k.startswith("decoder.") for k in vae)
    save_file(
        {k: v + 1 if k.startswith("decoder.") else v for k, v in vae.items()}, other / "vae/model.safetensors"
    )
    result = CliRunner().invoke(app, ["train", "guide", str(tiny_model_dir), str(other), str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    # the result keeps MODEL's own VAE
    assert (tmp_path / "g/vae/model.safetensors").read_bytes() == (
        tiny_model_dir / "vae/model.safetensors"
    ).read_bytes()


def test_generate_cli_takes_autoguidance(guide_dir, tmp_path):
    out = tmp_path / "a.png"
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "a red ball",
            "--model",
            str(guide_dir),
            "--num-frames",
            "1",
            "--steps",
            "1",
            "--autoguidance",
            "3",
            "-o",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_eval_world_takes_autoguidance(guide_dir, tiny_model_dir, tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red ball bounces on green grass\n")
    args = ["eval", "world", "--prompts", str(prompts), "--steps", "1", "--no-report"]
    for weight in ("1", "3"):
        out = tmp_path / f"ev{weight}"
        result = CliRunner().invoke(
            app, [*args, "--model", str(guide_dir), "--autoguidance", weight, "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert json.loads((out / "results.json").read_text())["autoguidance"] == float(weight)
    (a,) = (tmp_path / "ev1/videos").glob("*.mp4")
    (b,) = (tmp_path / "ev3/videos").glob("*.mp4")
    assert not np.array_equal(read_video(a)[0], read_video(b)[0])  # the weight reached the sampler
    result = CliRunner().invoke(
        app, [*args, "--model", str(tiny_model_dir), "--autoguidance", "2", "-o", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "needs a guide transformer" in result.output
