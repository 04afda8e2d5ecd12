"""torchrun with 2 processes on this CPU (gloo): ranks stay in sync and match one process on the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_train_data import make_folder

from haneul.models.vae import VAEConfig, VideoVAE
from haneul.weights import save_module

TINY_DIT = """
data: {data}
vae: {vae}
preset: tiny
sizes: [[32, 32], [48, 32], [32, 48]]
frame_counts: [1, 9]
frame_weights: [0.4, 0.6]
batch_size: 4
steps: 4
warmup_steps: 1
log_every: 1
num_threads: 1
bf16: false
save_every_minutes: 0
"""


def setup(tmp_path: Path) -> Path:
    data = make_folder(tmp_path / "data", corrupt=False)
    torch.manual_seed(0)
    config = VAEConfig(latent_channels=4, channels=(8, 8, 16))
    save_module(VideoVAE(config), config, tmp_path / "vae", dtype="fp32")
    path = tmp_path / "dit.yaml"
    path.write_text(TINY_DIT.format(data=data, vae=tmp_path / "vae"))
    return path


def log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def run(command: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("strategy", ["ddp", pytest.param("fsdp", marks=pytest.mark.slow)])
def test_two_processes_match_one(tmp_path, strategy):
    config = setup(tmp_path)
    train = ["-m", "haneul", "train", "dit", str(config)]
    run([sys.executable, *train, "--set", f"out={tmp_path / 'one'}"])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run([*torchrun, *train, "--set", f"out={tmp_path / 'two'}", "--set", f"strategy={strategy}"])

    end = [e for e in log(tmp_path / "two") if e.get("event") == "end"][-1]
    sums = end["rank_weight_sums"]
    assert len(sums) == 2 and sums[0] == sums[1]  # the ranks hold identical weights

    one = {e["step"]: e["loss"] for e in log(tmp_path / "one") if "loss" in e and "event" not in e}
    two = {e["step"]: e["loss"] for e in log(tmp_path / "two") if "loss" in e and "event" not in e}
    assert one.keys() == two.keys() == {1, 2, 3, 4}
    for step in one:  # the global mean loss of the same global batch
        assert two[step] == pytest.approx(one[step], rel=1e-4)
    a = load_file(tmp_path / "one/checkpoint/model.safetensors")
    b = load_file(tmp_path / "two/checkpoint/model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
