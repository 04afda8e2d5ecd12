"""World benchmark with and without prompt expansion, side by side on the standard set's short prompts.

For each prompt (an evenly spread subset with --limit, so every group and both languages are in it) the
model generates two videos with the same seed, size and duration: one from the expanded caption (the
built-in world expander), one from the prompt as typed. Both are scored by the world benchmark against
the prompt (`haneul.eval.benchmark.evaluate_video`). The last line is

    overall_with_expansion=0.xxx overall_without=0.xxx

    python bench/expansion_eval.py --limit 40 [--model DIR] [--steps N] [--out results.jsonl] [--control]

The benchmark's expected scene fills what a prompt leaves open from the video's seed, and so does the
world expander: with `--control` a third video per prompt is expanded from another seed, to show how much
of the gain comes from the stated facts alone (e.g. English text for Korean prompts).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

STANDARD = Path(__file__).parents[1] / "src/haneul/eval/prompts/world_standard.jsonl"


def pick(rows: list[dict], limit: int | None) -> list[dict]:
    """An evenly spread subset: the file is ordered by group, so a prefix would test one group only."""
    if not limit or limit >= len(rows):
        return rows
    return [rows[i] for i in np.linspace(0, len(rows) - 1, limit).round().astype(int)]


def mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


class OtherSeed:
    """The world expander filling open choices from another seed than the video's (the control arm)."""

    def __init__(self, expander, offset: int = 7919):
        self.expander, self.offset = expander, offset

    def expand(self, prompt: str, seed: int = 0, **shape):
        return self.expander.expand(prompt, seed + self.offset, **shape)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--prompts", default=str(STANDARD), help="standard prompt set (JSONL)")
    parser.add_argument("--limit", type=int, default=40, help="number of prompts (evenly spread); 0 = all")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model's)")
    parser.add_argument("--out", default=None, help="write per-prompt results here (JSONL)")
    parser.add_argument(
        "--control",
        action="store_true",
        help="a third video per prompt, expanded with another seed: the benchmark's expected scene fills "
        "open choices from the video's seed, so this shows how much of the gain is the stated facts alone",
    )
    args = parser.parse_args()

    from haneul.eval.benchmark import DIMENSIONS, evaluate_video
    from haneul.pipeline import load_pipeline
    from haneul.prompting import WorldExpander

    pipe = load_pipeline(args.model)
    if pipe.expander is None:
        print(f'note: {pipe.spec.name}\'s haneul.json has no "expander": "world"; using the world expander')
        pipe.expander = WorldExpander()
    arms = {"with": pipe.expander, "without": None}
    if args.control:
        arms["other_seed"] = OtherSeed(pipe.expander)
    rows = pick(
        [json.loads(line) for line in Path(args.prompts).read_text().splitlines() if line.strip()], args.limit
    )
    print(f"model {pipe.spec.name}, {len(rows)} prompts, steps {args.steps or pipe.spec.num_steps}")
    print(f"{'id':6} {'lang':4} {'group':11} " + " ".join(f"{a:>10}" for a in arms) + "  prompt")
    results, start = [], time.perf_counter()
    sink = open(args.out, "w") if args.out else None
    for r in rows:
        frames = 1 + 4 * math.ceil(r["seconds"] * r["fps"] / 4)
        row = {**r}
        for arm, expander in arms.items():
            pipe.expander = expander
            video = pipe.generate(
                r["prompt"],
                width=r["width"],
                height=r["height"],
                num_frames=frames,
                fps=r["fps"],
                num_steps=args.steps,
                seed=r["seed"],
            )
            row[arm] = evaluate_video(video.frames, r["prompt"], r["seed"], r["fps"]).scores
            row[f"caption_{arm}"] = video.caption
        results.append(row)
        if sink:
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
        cells = " ".join(f"{fmt(row[a]['overall']):>10}" for a in arms)
        print(f"{r['id']:6} {r['lang']:4} {r['group']:11} {cells}  {r['prompt']}", flush=True)
    if sink:
        sink.close()

    print(f"\n{len(results)} prompts x {len(arms)} videos in {time.perf_counter() - start:.0f} s")
    print(f"{'dimension':12} " + " ".join(f"{a:>10}" for a in arms) + "    n")
    for dim in (*DIMENSIONS, "overall"):
        n = sum(x["with"][dim] is not None for x in results)
        print(
            f"{dim:12} "
            + " ".join(f"{fmt(mean([x[a][dim] for x in results])):>10}" for a in arms)
            + f" {n:4}"
        )
    for lang in ("en", "ko"):
        sub = [x for x in results if x["lang"] == lang]
        if sub:
            cells = ", ".join(f"{a} {fmt(mean([x[a]['overall'] for x in sub]))}" for a in arms)
            print(f"overall {lang} ({len(sub)} prompts): {cells}")
    pairs = [
        (x["with"]["overall"], x["without"]["overall"]) for x in results if x["with"]["overall"] is not None
    ]
    better = sum(a > b + 1e-9 for a, b in pairs)
    worse = sum(a < b - 1e-9 for a, b in pairs)
    print(f"expansion better on {better}, worse on {worse}, equal on {len(pairs) - better - worse} prompts")
    if args.control:
        print(f"overall_with_expansion_other_seed={fmt(mean([x['other_seed']['overall'] for x in results]))}")
    w, wo = mean([a for a, _ in pairs]), mean([b for _, b in pairs])
    print(f"overall_with_expansion={fmt(w)} overall_without={fmt(wo)}")


if __name__ == "__main__":
    main()
