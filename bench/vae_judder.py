"""Does a VAE's decode move smoothly, or hold each latent group and jump to the next?

Round trips of ground-truth world clips (standard prompts, 33 frames) through each VAE given, side by side.
Per clip: the mean frame-to-frame difference on steps that cross a latent-group boundary (frame tf*j ->
tf*j + 1) over the mean on steps inside a group (1.0 is smooth; the ground truth's own ratio is printed for
contrast), the largest step over the median step (issue 5's seam bound is 1.5), the step error (mean
absolute difference between the decode's frame-to-frame changes and the truth's, grey levels: a decode that
redraws still texture every frame changes where the truth does not, and every seam of extend/join meets the
input's own, calmer steps), and PSNR.

    python bench/vae_judder.py [--model DIR ...] [--limit 24]

Last line per VAE: `vae=NAME boundary_ratio=... max_over_median=... step_error=... psnr_db=...` (means over clips).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from haneul.safety.watermark import psnr  # uint8 frames; inf when equal


def step_differences(frames: np.ndarray) -> np.ndarray:
    """(F, H, W, 3) uint8 -> mean absolute difference of each consecutive pair, (F-1,)."""
    f = frames.astype(np.float32)
    return np.abs(np.diff(f, axis=0)).mean(axis=(1, 2, 3))


def judder(frames: np.ndarray, tf: int) -> tuple[float, float]:
    """(boundary-step mean / in-group-step mean, max step / median step)."""
    steps = step_differences(frames)
    boundary = np.zeros(len(steps), dtype=bool)
    boundary[::tf] = True
    inside = max(float(steps[~boundary].mean()), 1e-6)
    return float(steps[boundary].mean()) / inside, float(steps.max()) / max(float(np.median(steps)), 1e-6)


def step_error(recon: np.ndarray, truth: np.ndarray) -> float:
    """Mean |frame-to-frame change of the reconstruction - the truth's| (grey levels): the decode's own movement."""
    r, t = np.diff(recon.astype(np.float32), axis=0), np.diff(truth.astype(np.float32), axis=0)
    return float(np.abs(r - t).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", action="append", help="model or VAE directory (repeatable; default: bundled)"
    )
    parser.add_argument("--limit", type=int, default=24, help="evenly spaced standard prompts")
    parser.add_argument("--frames", type=int, default=33, help="frames per clip (1 + tf*k)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    from haneul.eval.prompt_set import load_prompts
    from haneul.models.vae import VAEConfig, VideoVAE, round_trip
    from haneul.pipeline import DEFAULT_MODEL_DIR
    from haneul.train.dit_task import resolve_vae_dir
    from haneul.weights import load_config, load_state
    from haneul.world import render_clip

    rows = load_prompts()
    rows = [rows[i] for i in np.linspace(0, len(rows) - 1, args.limit).round().astype(int)]
    clips = [
        render_clip(r["prompt"], r["width"], r["height"], args.frames, r["fps"], r["seed"]) for r in rows
    ]
    truth = [judder(c.frames, 4) for c in clips]
    print(
        f"ground_truth boundary_ratio={np.mean([t[0] for t in truth]):.3f} "
        f"max_over_median={np.mean([t[1] for t in truth]):.3f}"
    )
    for model in args.model or [str(DEFAULT_MODEL_DIR)]:
        folder = resolve_vae_dir(model)
        vae = load_state(VideoVAE(load_config(VAEConfig, folder)), folder).eval()
        scores = []
        for clip in clips:
            recon = round_trip(vae, clip.frames)
            scores.append(
                (
                    *judder(recon, vae.config.temporal_factor),
                    step_error(recon, clip.frames),
                    psnr(recon, clip.frames),
                )
            )
        ratio, spread, steps, db = np.mean(scores, axis=0)
        print(
            f"vae={model} boundary_ratio={ratio:.3f} max_over_median={spread:.3f} step_error={steps:.3f} "
            f"psnr_db={db:.2f}"
        )


if __name__ == "__main__":
    main()
