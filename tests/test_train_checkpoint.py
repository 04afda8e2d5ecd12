"""Atomic checkpoints and --resume, with a real training subprocess killed (SIGKILL) in the middle of a save."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from test_train_data import make_folder

from haneul.models.vae import VAEConfig, VideoVAE
from haneul.train.checkpoint import SLEEP_ENV, find_checkpoint, load_checkpoint, save_checkpoint
from haneul.weights import load_config, load_state

TINY_VAE = """
data: {data}
sizes: [[32, 32], [48, 32], [32, 48]]
frame_counts: [1, 9]
frame_weights: [0.4, 0.6]
batch_size: 2
steps: 6
warmup_steps: 2
save_every: 2
save_every_minutes: 0
log_every: 1
num_threads: 1
latent_stats_clips: 4
model: {{latent_channels: 4, channels: [8, 8, 16]}}
"""


def write_config(tmp_path: Path) -> Path:
    data = make_folder(tmp_path / "data", corrupt=False)
    path = tmp_path / "vae.yaml"
    path.write_text(TINY_VAE.format(data=data))
    return path


def train(config: Path, out: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "haneul", "train", "vae", str(config), "--set", f"out={out}", *args]
    return subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def events(out: Path) -> list[dict]:
    path = out / "train_log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def wait_for(out: Path, proc: subprocess.Popen, event: str, step: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.get("event") == event and e.get("step") == step for e in events(out)):
            return
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        time.sleep(0.05)
    raise AssertionError(f"no {event} at step {step}")


def test_sigkill_during_save_leaves_a_loadable_checkpoint_and_resume_matches(tmp_path):
    config = write_config(tmp_path)
    # Reference: one uninterrupted run.
    ref = train(config, tmp_path / "ref")
    assert ref.wait(timeout=300) == 0, ref.communicate()[1].decode()[-2000:]

    # The same run, killed while writing its second checkpoint (the save sleeps before its renames).
    out = tmp_path / "killed"
    proc = train(config, out, env={SLEEP_ENV: "2"})
    wait_for(out, proc, "checkpoint", 2)
    wait_for(out, proc, "saving", 4)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(out.glob(".checkpoint.tmp-*")), "the kill should have landed inside the save"
    ckpt = load_checkpoint(out / "checkpoint")
    assert ckpt["state"]["step"] == 2
    load_state(VideoVAE(load_config(VAEConfig, out / "vae")), out / "vae")  # the model directory loads too

    # Resume: same step, LR schedule, EMA, optimizer and data position -> the same weights as the reference.
    resumed = train(config, out, "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.communicate()[1].decode()[-2000:]
    assert any(e.get("event") == "resume" and e["step"] == 2 for e in events(out))
    assert not list(out.glob(".checkpoint.tmp-*"))  # stale half-written checkpoints are cleaned up
    for name in ("model.safetensors", "ema.safetensors"):
        a, b = load_file(tmp_path / "ref/checkpoint" / name), load_file(out / "checkpoint" / name)
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    ref_log = [e for e in events(tmp_path / "ref") if "loss" in e and "event" not in e]
    out_log = [e for e in events(out) if "loss" in e and "event" not in e]
    ref_loss = {e["step"]: e["loss"] for e in ref_log}
    assert all(abs(ref_loss[e["step"]] - e["loss"]) < 1e-4 for e in out_log if e["step"] > 2)


def test_a_kill_between_the_two_renames_falls_back_to_the_old_checkpoint(tmp_path):
    target = tmp_path / "checkpoint"
    state = {"w": torch.ones(3)}
    save_checkpoint(target, state, state, {"opt": 1}, {"step": 5})
    os.replace(target, tmp_path / "checkpoint.old")  # what replace_dir_atomic's first rename leaves
    assert find_checkpoint(target) == tmp_path / "checkpoint.old"
    assert load_checkpoint(target)["state"]["step"] == 5
    save_checkpoint(target, state, state, {"opt": 2}, {"step": 6})  # the next save recovers, then swaps
    assert load_checkpoint(target)["state"]["step"] == 6 and not (tmp_path / "checkpoint.old").exists()
