"""Does a model draw the kind its prompt names? One image per kind and seed, compared across kinds.

For each seed, every kind of the world (`a large {colour} {kind} on {background}`) is drawn from the same
noise, one frame at the model's square size. A model that reads the kind word draws different outlines for
different kinds; one that does not draws the same blob for all of them (session 25: the bundled model's
images of one seed were identical to the eye across all eight kinds, although the colour word was followed).

Figures per model:
- `binding`: the mean pixel difference between two kinds' images of one seed, over the mean difference
  between two seeds' images of one kind. 0: the kind word changes nothing; about 1: the kind word changes the
  picture as much as the noise does.
- `kind`: the world benchmark's kind score of the images (`haneul.eval`; each image held still for 9
  frames and scored against its prompt and seed), and `colour` likewise. The world's own renders of the
  prompts score 1.0 on both (`--truth`).
- `position`: the share of stills whose object (the one the benchmark matched) is within 10% of the frame of
  where the world puts it in a one-frame picture for that seed, which is where the expanded caption says it
  is ("at the top left").

Cheap (8 kinds x 4 seeds = 32 images, about 3 minutes on one thread beside a training run): a quick check of
a training snapshot before the whole benchmark.

    python bench/kind_binding.py [--model DIR ...] [--truth] [--seeds 4] [--colour blue] [--background "a white background"] [--contrast W]

Last line per model: `model=... binding=... kind=... colour=... position=...`
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
import torch

STILL_FRAMES = 9


def pairwise_difference(images: list[np.ndarray]) -> float:
    """Mean absolute difference (grey levels) over every pair of images."""
    pairs = list(itertools.combinations(images, 2))
    return float(np.mean([np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() for a, b in pairs]))


def placed(result, prompt: str, seed: int) -> float:
    """1 if the object the benchmark matched to the prompt's object sits within 10% of the frame (each way)
    of where the world puts it in a one-frame picture for this seed, which is where the expanded caption says
    it is ("at the top left"). (The benchmark's own expectation is of the 9-frame still, which the world may
    lay out differently.)"""
    from haneul.world import render_clip

    chain = result.match.assigned.get(0)
    if chain is None:
        return 0.0
    truth = render_clip(prompt, result.width, result.height, 1, 8.0, seed).truth
    x, y = truth["frames"][0]["objects"][0]["centre"]
    det = chain.dets[0]
    return float(abs(det.x - x) <= 0.1 * result.width and abs(det.y - y) <= 0.1 * result.height)


def model_drawer(model: str | None, contrast: float | None = None):
    """A function (prompt, seed) -> one frame (H, W, 3) uint8 from the model at its square size (with
    contrast guidance of this weight; None: the model's)."""
    from haneul.pipeline import load_pipeline

    pipe = load_pipeline(model)
    size = next((w, h) for w, h in pipe.spec.sizes if w == h)

    def draw(prompt: str, seed: int) -> np.ndarray:
        video = pipe.generate(
            prompt, width=size[0], height=size[1], num_frames=1, seed=seed, contrast=contrast
        )
        return video.frames[0]

    return draw


def truth_drawer(size: int = 128):
    """A function (prompt, seed) -> the world's own one-frame render at size x size: what a perfect model
    would draw (the bundled model's square size is 128)."""
    from haneul.world import render_clip

    def draw(prompt: str, seed: int) -> np.ndarray:
        return render_clip(prompt, size, size, 1, 8.0, seed).frames[0]

    return draw


def measure(draw, seeds: int, colour: str, background: str) -> dict:
    from haneul.eval.benchmark import evaluate_video
    from haneul.world import vocab

    images: dict[tuple[str, int], np.ndarray] = {}
    scores: dict[str, list[float]] = {"kind": [], "colour": [], "position": []}
    for kind, seed in itertools.product(vocab.KINDS, range(seeds)):
        prompt = f"a large {colour} {kind} on {background}"
        images[kind, seed] = draw(prompt, seed)
        # Scored as a still clip: the benchmark follows objects over frames and needs a few to match one.
        still = np.repeat(images[kind, seed][None], STILL_FRAMES, axis=0)
        result = evaluate_video(still, prompt, seed=seed, keep=True)
        for dim in ("kind", "colour"):
            if result.scores.get(dim) is not None:
                scores[dim].append(result.scores[dim])
        scores["position"].append(placed(result, prompt, seed))
    across_kinds = np.mean([pairwise_difference([images[k, s] for k in vocab.KINDS]) for s in range(seeds)])
    across_seeds = np.mean([pairwise_difference([images[k, s] for s in range(seeds)]) for k in vocab.KINDS])
    return {
        "binding": round(float(across_kinds / max(across_seeds, 1e-6)), 3),
        "across_kinds": round(float(across_kinds), 3),
        "across_seeds": round(float(across_seeds), 3),
        **{dim: round(float(np.mean(v)), 3) if v else None for dim, v in scores.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None, help="model directory (repeatable)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per kind")
    parser.add_argument("--colour", default="blue", help="colour word of every prompt")
    parser.add_argument("--background", default="a white background", help="the prompts' place")
    parser.add_argument("--truth", action="store_true", help="also measure the world's own renders")
    parser.add_argument(
        "--contrast", type=float, default=None, help="contrast guidance weight (default: the model's)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (the binding figure compares seeds)")
    torch.set_num_threads(args.threads)
    from haneul.errors import InputError

    drawers = [("truth", truth_drawer())] if args.truth else []
    try:
        drawers += [
            (model or "bundled", model_drawer(model, args.contrast)) for model in args.model or [None]
        ]
    except InputError as e:
        parser.error(str(e))
    for name, draw in drawers:
        row = {"model": name, **measure(draw, args.seeds, args.colour, args.background)}
        print(json.dumps(row))
        print(
            " ".join(
                f"{k}={v}" for k, v in row.items() if k in ("model", "binding", "kind", "colour", "position")
            )
        )


if __name__ == "__main__":
    main()
