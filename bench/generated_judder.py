"""Do a model's generated videos move smoothly, or jump at every latent-frame boundary?

Text-to-video of evenly spaced standard prompts (expanded by the pipeline as `haneul generate` does; their
sizes and seeds; 33 frames), each model given side by side from the same prompts and seeds. Per video, as in
bench/vae_judder.py: the mean frame-to-frame difference on steps that cross a latent-frame boundary over the
mean on steps inside one (1.0 is smooth), and the largest step over the median step (issue 5's seam bound is
1.5). Every seam of extend, join and loop sits on a latent-frame boundary, so a model whose own videos jump
there cannot make a seam that does not (docs/modes.md). The VAE alone, on ground-truth clips, is
bench/vae_judder.py.

    python bench/generated_judder.py [--model DIR ...] [--limit 12] [--steps N]

Last line per model: `model=DIR boundary_ratio=... max_over_median=... mean_step=...` (means over videos).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from vae_judder import judder, step_differences  # this folder: run as `python bench/generated_judder.py`

from haneul.eval.prompt_set import load_prompts
from haneul.pipeline import DEFAULT_MODEL_DIR, load_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model directory (repeatable; default: bundled)")
    parser.add_argument("--limit", type=int, default=12, help="evenly spaced standard prompts")
    parser.add_argument("--frames", type=int, default=33, help="frames per video (1 + tf*k)")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    rows = load_prompts()
    rows = [rows[i] for i in np.linspace(0, len(rows) - 1, args.limit).round().astype(int)]
    for model in args.model or [str(DEFAULT_MODEL_DIR)]:
        pipe = load_pipeline(model)
        tf = pipe.frame_step
        scores = []
        for r in rows:
            shape = dict(width=r["width"], height=r["height"], num_frames=args.frames, fps=r["fps"])
            frames = pipe.generate(r["prompt"], seed=r["seed"], num_steps=args.steps, **shape).frames
            scores.append((*judder(frames, tf), float(step_differences(frames).mean())))
            print(f"  {r['prompt']!r}: boundary_ratio={scores[-1][0]:.3f}", flush=True)
        ratio, spread, mean_step = np.mean(scores, axis=0)
        print(
            f"model={model} boundary_ratio={ratio:.3f} max_over_median={spread:.3f} mean_step={mean_step:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
