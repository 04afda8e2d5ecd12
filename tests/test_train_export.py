"""`haneul train export`: a run's model without its checkpoint, weights in the asked dtype, readable by all."""

from __future__ import annotations

import shutil

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from haneul.cli import app


def test_export_writes_bf16_weights_without_the_checkpoint(tmp_path, tiny_model_dir):
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)
    (run / "README.md").write_text("# tiny\n")
    (run / "checkpoint").mkdir()
    dest = tmp_path / "out"
    result = CliRunner().invoke(app, ["train", "export", str(run), str(dest)])
    assert result.exit_code == 0, result.output
    assert not (dest / "checkpoint").exists() and not (tmp_path / "out.tmp").exists()
    for sub in ("vae", "dit"):
        source = load_file(run / sub / "model.safetensors")
        for k, v in load_file(dest / sub / "model.safetensors").items():
            assert v.dtype == torch.bfloat16 and torch.equal(v, source[k].to(torch.bfloat16))
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in dest.rglob("*"))

    from haneul.pipeline import Pipeline

    assert (
        Pipeline.from_pretrained(dest).generate("a red ball", num_frames=1, num_steps=1).frames.shape[0] == 1
    )


def test_export_of_an_unfinished_run_is_a_clear_error(tmp_path, tiny_model_dir):
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)
    (run / "dit" / "model.safetensors").unlink()
    result = CliRunner().invoke(app, ["train", "export", str(run), str(tmp_path / "out")])
    assert result.exit_code != 0 and "missing dit/model.safetensors" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
