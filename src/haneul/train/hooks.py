"""Periodic looks at a transformer run: sample videos and a small world-benchmark run, next to the checkpoints.

Both use the EMA weights (what gets exported) through the real pipeline. If a piece they need is not
installed or not written yet, they say so in the log instead of failing the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn


def make_pipeline(task, ema: nn.Module):
    from haneul.pipeline import ModelSpec, Pipeline

    c = task.config
    spec = ModelSpec(
        name=c.name,
        text_encoder=c.text_encoder,
        sizes=[tuple(map(int, s)) for s in c.sizes],
        fps=[float(c.fps)],
        max_frames=int(max(c.frame_counts)),
        num_steps=c.num_steps,
        guidance=c.guidance,
    )
    return Pipeline(task.vae, ema, task.text, spec, device=str(task.d.device))


def sample_hook(task, ema: nn.Module, step: int, out: Path) -> str:
    """One short video per sample prompt at the first native size: OUT/samples/step_XXXXXXX_N.mp4."""
    try:
        pipe = make_pipeline(task, ema)
    except ImportError as e:
        return f"skipped: the pipeline is not available ({e})"
    from haneul.video_io import write_video

    folder = out / "samples"
    folder.mkdir(exist_ok=True)
    start = time.perf_counter()
    written = []
    frames = int(sorted(task.config.frame_counts)[-2] if len(task.config.frame_counts) > 1 else 1)
    w, h = task.config.sizes[0]
    for i, prompt in enumerate(task.config.sample_prompts):
        with torch.random.fork_rng():  # sampling must not disturb the training RNG
            video = pipe.generate(prompt, width=int(w), height=int(h), num_frames=frames, seed=i)
        path = folder / f"step_{step:07d}_{i}.mp4"
        write_video(path, video.frames, fps=video.fps)
        written.append(path.name)
    (folder / f"step_{step:07d}.json").write_text(json.dumps({"prompts": task.config.sample_prompts}) + "\n")
    ema.requires_grad_(False)
    return f"wrote {len(written)} samples in {time.perf_counter() - start:.0f}s: {', '.join(written)}"


def eval_hook(task, ema: nn.Module, step: int, out: Path) -> str:
    """`haneul eval world` on a few standard prompts, using the model directory just exported."""
    try:
        import haneul.eval.cli as eval_cli
    except ImportError as e:
        return f"skipped: haneul.eval is not available ({e})"
    if "world" not in {c.name or c.callback.__name__ for c in eval_cli.app.registered_commands}:
        return "skipped: `haneul eval world` is not available yet"
    report = out / "benchmark" / f"step_{step:07d}"
    report.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "haneul", "eval", "world", "--model", str(out),
        "--limit", str(task.config.eval_prompts), "--out", str(report),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        return f"failed (exit {result.returncode}): {result.stderr.strip().splitlines()[-1:] or ''}"
    return f"report in {report}: {result.stdout.strip().splitlines()[-1:] or ''}"
