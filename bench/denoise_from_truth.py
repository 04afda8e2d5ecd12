"""How much of the truth a model keeps when it denoises it: world-benchmark scores of ground-truth clips of the
standard prompts, noised to time t with fresh noise and sampled back to t = 0 with their world caption.

Strength 0 is the VAE's ceiling (`bench/vae_ceiling.py`), strength 1 plain generation from the caption. In
between, the layout and colours are given: a score lost at a small strength is detail the transformer cannot
draw even when it is nearly all there (session 19: the bundled model's kind fell from 0.685 at strength 0 to
0.49 at 0.2 and 0.28 at 0.5, with 16 or 64 sampling steps alike).

    python bench/denoise_from_truth.py [--model DIR] [--strengths 0.2,0.5] [--limit 40] [--steps N]

One line per strength: `strength=S {benchmark JSON summary}`. A video the safety checks refuse is left out
(and named).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--strengths", default="0.2,0.5", help="comma-separated noise levels in (0, 1]")
    parser.add_argument("--limit", type=int, default=40, help="evenly spaced standard prompts (0: all 212)")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="keep the videos here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from haneul.errors import ModerationBlocked
    from haneul.eval.benchmark import read_items, run_benchmark
    from haneul.eval.prompt_set import load_prompts
    from haneul.outputs import save_output
    from haneul.pipeline import DEFAULT_MODEL_DIR, Pipeline
    from haneul.world import render_clip

    strengths = [float(s) for s in args.strengths.split(",")]
    pipe = Pipeline.from_pretrained(args.model or DEFAULT_MODEL_DIR)
    rows = load_prompts()
    if args.limit:
        rows = [rows[i] for i in np.linspace(0, len(rows) - 1, args.limit).round().astype(int)]
    out = Path(args.out or tempfile.mkdtemp(prefix="denoise_from_truth_"))
    for strength in strengths:
        folder = out / f"strength_{strength:g}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for r in rows:
            frames = int(round(r["seconds"] * r["fps"])) + 1
            clip = render_clip(r["prompt"], r["width"], r["height"], frames, r["fps"], r["seed"])
            try:
                video = pipe.generate(
                    clip.caption,
                    width=r["width"],
                    height=r["height"],
                    num_frames=frames,
                    fps=r["fps"],
                    num_steps=args.steps,
                    seed=r["seed"],
                    init_video=clip.frames if strength < 1 else None,
                    strength=strength,
                    invert=False,  # fresh noise: t = strength means what it says
                    recolour=False,
                    expand=False,  # the world caption is already what the model trained on
                )
                save_output(video, folder / f"{r['id']}.mp4")  # the frame check runs here
            except ModerationBlocked as e:
                print(f"{r['id']}: refused ({e.category}); left out")
                continue
            keep = {k: r[k] for k in ("id", "prompt", "seed", "targets") if k in r}
            lines.append(json.dumps({"file": f"{r['id']}.mp4", **keep}, ensure_ascii=False))
        (folder / "videos.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _, summary = run_benchmark(read_items(folder), progress=False)
        print(
            f"strength={strength:g} " + json.dumps({k: round(v["mean"], 3) for k, v in summary.items()}),
            flush=True,
        )
    print(f"videos in {out}")


if __name__ == "__main__":
    main()
