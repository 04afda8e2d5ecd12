"""The world-benchmark score a VAE allows: ground-truth clips of the standard prompts, encoded and decoded.

The transformer can only make what the VAE can decode, so these scores bound the model's. The first bundled
VAE (8x space, 16 channels) scored colour 0.00 and kind 0.01 here: it turned 20-pixel objects into grey
blobs, which no amount of transformer training could have fixed.

    python bench/vae_ceiling.py [--model DIR] [--limit 40] [--out DIR] [--threads 2]

Last line: the benchmark's JSON summary of the VAE round trips, then `ground_truth_overall=...` for contrast.
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
    parser.add_argument("--model", default=None, help="model or VAE directory (default: the bundled model)")
    parser.add_argument("--limit", type=int, default=40, help="evenly spaced standard prompts (0: all 212)")
    parser.add_argument("--out", default=None, help="keep the videos and results here")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (1 beside a training run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from haneul.eval.benchmark import read_items, run_benchmark
    from haneul.eval.prompt_set import load_prompts
    from haneul.models.vae import VAEConfig, VideoVAE, round_trip
    from haneul.pipeline import DEFAULT_MODEL_DIR
    from haneul.train.dit_task import resolve_vae_dir
    from haneul.video_io import write_video
    from haneul.weights import load_config, load_state
    from haneul.world import render_clip

    folder = resolve_vae_dir(str(args.model or DEFAULT_MODEL_DIR))
    vae = load_state(VideoVAE(load_config(VAEConfig, folder)), folder).eval()
    rows = load_prompts()
    if args.limit:
        rows = [rows[i] for i in np.linspace(0, len(rows) - 1, args.limit).round().astype(int)]
    out = Path(args.out or tempfile.mkdtemp(prefix="vae_ceiling_"))
    summaries = {}
    for name, transform in (("ground_truth", lambda f: f), ("vae", lambda f: round_trip(vae, f))):
        folder_out = out / name
        folder_out.mkdir(parents=True, exist_ok=True)
        lines = []
        for r in rows:
            frames = int(round(r["seconds"] * r["fps"])) + 1
            clip = render_clip(r["prompt"], r["width"], r["height"], frames, r["fps"], r["seed"])
            write_video(folder_out / f"{r['id']}.mp4", transform(clip.frames), fps=r["fps"])
            keep = {k: r[k] for k in ("id", "prompt", "seed", "targets") if k in r}
            lines.append(json.dumps({"file": f"{r['id']}.mp4", **keep}, ensure_ascii=False))
        (folder_out / "videos.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _, summary = run_benchmark(read_items(folder_out), progress=False)
        summaries[name] = {dim: v["mean"] for dim, v in summary.items()}
    print(f"vae={folder} prompts={len(rows)} videos in {out}")
    print(json.dumps(summaries["vae"]))
    print(f"ground_truth_overall={summaries['ground_truth']['overall']:.3f}")


if __name__ == "__main__":
    main()
