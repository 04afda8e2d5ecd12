"""`haneul train average`: a point between a model and its fine-tune, and the models it refuses to mix."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from haneul.cli import app

DIT = "dit/model.safetensors"


@pytest.fixture
def two_models(tmp_path, tiny_model_dir):
    """The tiny model and a copy whose transformer weights are moved (a stand-in for a fine-tune)."""
    first, second = tmp_path / "a", tmp_path / "b"
    shutil.copytree(tiny_model_dir, first)
    shutil.copytree(tiny_model_dir, second)
    torch.manual_seed(0)
    moved = {k: v + torch.randn_like(v) for k, v in load_file(second / DIT).items()}
    save_file(moved, second / DIT, metadata={"dtype": "fp32"})
    return first, second


@pytest.mark.parametrize("weight", [0.0, 0.25, 1.0])
def test_average_interpolates_the_transformer_only(two_models, tmp_path, weight):
    first, second = two_models
    dest = tmp_path / "mix"
    result = CliRunner().invoke(
        app, ["train", "average", str(first), str(second), str(dest), "--weight", str(weight)]
    )
    assert result.exit_code == 0, result.output
    a, b, mixed = (load_file(m / DIT) for m in (first, second, dest))
    for k, v in mixed.items():
        torch.testing.assert_close(v, (1 - weight) * a[k] + weight * b[k])
    assert (dest / "vae/model.safetensors").read_bytes() == (first / "vae/model.safetensors").read_bytes()

    from haneul.pipeline import Pipeline

    video = Pipeline.from_pretrained(dest).generate("a red ball", num_frames=1, num_steps=1)
    assert video.frames.shape[0] == 1


def test_average_refuses_models_that_differ_beyond_the_transformer(two_models, tmp_path):
    first, second = two_models
    vae = load_file(second / "vae/model.safetensors")
    save_file({k: v + 1 for k, v in vae.items()}, second / "vae/model.safetensors")
    result = CliRunner().invoke(app, ["train", "average", str(first), str(second), str(tmp_path / "mix")])
    assert result.exit_code != 0
    assert "differ in vae/model.safetensors" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "mix").exists()


@pytest.mark.parametrize("weight", ["-0.1", "1.5"])
def test_average_refuses_a_weight_outside_0_1(two_models, tmp_path, weight):
    first, second = two_models
    result = CliRunner().invoke(
        app, ["train", "average", str(first), str(second), str(tmp_path / "mix"), "--weight", weight]
    )
    assert result.exit_code != 0 and "must be from 0 to 1" in result.output
    assert not (tmp_path / "mix").exists()
