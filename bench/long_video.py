"""One-minute videos, window by window: wall time, memory against a 4 s clip, and object permanence.

Each duration runs in a fresh subprocess so its peak RSS is its own. The video is made at the model's
square size from a long prompt (an object passing behind an occluder), and its frames are streamed from
the decoder straight into the MP4 (`Pipeline.generate(on_frames=...)` into a `VideoWriter`), so nothing
grows with the duration but the latents (about 16 KB per latent frame at 128x128). The wall time covers
generation, decoding and writing (not the model load or a warm-up run).

Object permanence is the world benchmark's (haneul.eval) on the 60 s MP4 itself, read back, and as a
mean over more long prompts (`--permanence-prompts`, `--permanence-seconds` each, several windows each).

    python bench/long_video.py [--model DIR] [--seconds 60] [--permanence-prompts 4 --permanence-seconds 12]

Last line: seconds=60 wall_s=... realtime_factor=... peak_rss_mb=... rss_ratio_vs_4s=...
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LONG_PROMPTS = [
    "a red ball rolls right behind a tree on green grass",
    "a blue box moves left behind a wall in the sky",
    "a yellow star passes behind a box on the sand",
    "an orange heart moves right behind a tree on the snow",
    "a purple ring passes behind a wall on a white background",
    "a green car drives left behind a box on the sand",
    "a red ball and a blue box move right behind a tree on green grass",
    "a white triangle moves left behind a wall at night",
]


def square_size(pipe) -> tuple[int, int]:
    return next(((w, h) for w, h in pipe.spec.sizes if w == h), pipe.spec.sizes[0])


def run_one(model: str | None, seconds: float, prompt: str, seed: int, out: str, steps: int | None) -> dict:
    """Generate one video in this process, streaming it into `out`; report wall time and peak RSS."""
    import torch

    from haneul.pipeline import load_pipeline
    from haneul.video_io import VideoWriter

    torch.set_num_threads(2)
    pipe = load_pipeline(model)
    width, height = square_size(pipe)
    pipe.generate("a red ball bounces", width=width, height=height, seconds=1, seed=99)  # warm-up
    frames = 0
    start = time.perf_counter()
    with VideoWriter(out, fps=pipe.spec.fps[0]) as writer:

        def write(chunk) -> None:
            nonlocal frames
            writer.write(chunk)
            frames += len(chunk)

        video = pipe.generate(
            prompt, width=width, height=height, seconds=seconds, seed=seed, num_steps=steps, on_frames=write
        )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"frames": frames, "fps": video.fps, "wall_s": wall, "peak_rss_mb": peak, "size": [width, height]}


def in_subprocess(
    model: str | None, seconds: float, prompt: str, seed: int, out: Path, steps: int | None
) -> dict:
    cmd = [sys.executable, __file__, "--one", str(seconds), "--prompt", prompt, "--seed", str(seed)]
    cmd += (
        ["--out", str(out)]
        + (["--model", model] if model else [])
        + (["--steps", str(steps)] if steps else [])
    )
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def permanence_of(frames, prompt: str, seed: int, fps: float) -> float | None:
    from haneul.eval.benchmark import evaluate_video

    return evaluate_video(frames, prompt, seed=seed, fps=fps).scores.get("permanence")


def permanence_set(model: str | None, n: int, seconds: float, steps: int | None) -> list[float]:
    """Permanence of several long prompts (the ones the benchmark can score: the world's object comes back)."""
    from haneul.pipeline import load_pipeline

    pipe = load_pipeline(model)
    width, height = square_size(pipe)
    scores = []
    for i, prompt in enumerate(LONG_PROMPTS[:n]):
        video = pipe.generate(prompt, width=width, height=height, seconds=seconds, seed=i, num_steps=steps)
        score = permanence_of(video.frames, prompt, i, video.fps)
        if score is not None:
            scores.append(score)
        print(f"  permanence {score}  {seconds:g}s  {prompt!r}", flush=True)
    return scores


def fmt(score: float | None) -> str:
    return "None" if score is None else f"{score:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    parser.add_argument("--prompt", default=LONG_PROMPTS[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--permanence-prompts", type=int, default=4)
    parser.add_argument("--permanence-seconds", type=float, default=12.0)
    parser.add_argument("--out", default=None, help="where the long MP4 goes (default: a temporary folder)")
    parser.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.model, args.one, args.prompt, args.seed, args.out, args.steps)))
        return

    from haneul.video_io import read_video

    with tempfile.TemporaryDirectory() as tmp:
        short = in_subprocess(args.model, 4.0, args.prompt, args.seed, Path(tmp) / "short.mp4", args.steps)
        out = Path(args.out) if args.out else Path(tmp) / "long.mp4"
        long = in_subprocess(args.model, args.seconds, args.prompt, args.seed, out, args.steps)
        print(f"4s: {json.dumps(short)}")
        print(f"{args.seconds:g}s: {json.dumps(long)}")
        frames, fps = read_video(out)
    score = permanence_of(frames, args.prompt, args.seed, fps)
    print(
        f"object_permanence_long={fmt(score)} ({args.seconds:g}s MP4, {len(frames)} frames, {args.prompt!r})"
    )
    if args.permanence_prompts:
        scores = permanence_set(args.model, args.permanence_prompts, args.permanence_seconds, args.steps)
        mean = sum(scores) / len(scores) if scores else None
        print(
            f"object_permanence_set={fmt(mean)} (mean of {len(scores)} scored of {args.permanence_prompts} "
            f"long prompts, {args.permanence_seconds:g}s each)"
        )
    video_s = long["frames"] / long["fps"]
    print(
        f"seconds={args.seconds:g} wall_s={long['wall_s']:.1f} realtime_factor={video_s / long['wall_s']:.2f} "
        f"peak_rss_mb={long['peak_rss_mb']:.0f} rss_ratio_vs_4s={long['peak_rss_mb'] / short['peak_rss_mb']:.2f}"
    )


if __name__ == "__main__":
    main()
