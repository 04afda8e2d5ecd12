"""World benchmark with and without prompt expansion, side by side on the standard set's short prompts.

For each prompt the model makes two videos with the same seed, size and duration, so the sampling noise
is the same: one from the expanded caption (the model's built-in world expander), one from the prompt as
typed. Both are scored by the world benchmark against the prompt as typed
(`haneul.eval.benchmark.evaluate_video`). The last line is

    overall_with_expansion=0.xxx overall_without=0.xxx

    python bench/expansion_eval.py --limit 40 [--control] [--minutes 9] [--model DIR] [--steps N] [--out results.jsonl]

The control arm (`--control`). The world expander fills what a prompt leaves open (a position, a
speed, an unstated count or background) with the world's own choice for the video's seed. The benchmark's
expected scene is the world's clip for the same prompt and seed. So the "with" arm could gain where a
dimension still depends on the seed's choice: the count the world shows, matching objects by the world's
colours and kinds, or any such choice the metrics do not yet ignore. The control arm expands the same
prompt with the same expander but from ANOTHER seed: the same stated facts, other unstated choices.
- control vs without: what expansion adds with nothing aligned to the benchmark. This is the honest gain.
- with vs control: what aligning the unstated choices with the benchmark's seed adds. A user's
  generation gets this alignment too (it is the same expander), but it says nothing about the model.

Prompts are visited in an order whose every prefix is spread over the whole set (groups, languages,
sizes), so `--minutes` can stop the run early and still leave an even sample. A prompt is always
finished in every arm before the time check.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

STANDARD = Path(__file__).parents[1] / "src/haneul/eval/prompts/world_standard.jsonl"
CONTROL_SEED_OFFSET = 7919  # any offset works; a prime keeps it away from the set's seeds 1000..1211


def pick(rows: list[dict], limit: int | None) -> list[dict]:
    """An evenly spread subset: the file is ordered by group, so a prefix would test one group only."""
    if not limit or limit >= len(rows):
        return rows
    return [rows[i] for i in np.linspace(0, len(rows) - 1, limit).round().astype(int)]


def spread_order(n: int) -> list[int]:
    """0..n-1 in van der Corput order (0, 1/2, 1/4, 3/4, ... of the range): every prefix is spread out."""
    order, seen, j = [], set(), 0
    while len(order) < n:
        k, bits, v = j, 0.5, 0.0
        while k:  # the base-2 radical inverse of j
            v += bits * (k & 1)
            k, bits = k >> 1, bits / 2
        i = int(v * n)
        if i not in seen:
            seen.add(i)
            order.append(i)
        j += 1
    return order


def mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def paired(results: list[dict], a: str, b: str) -> str:
    """Mean overall difference a - b over prompts scored in both, its standard error, and the win count."""
    diffs = np.array([x[a]["overall"] - x[b]["overall"] for x in results if x[a]["overall"] is not None])
    if len(diffs) == 0:
        return f"{a} - {b}: no prompts"
    se = float(diffs.std(ddof=1) / math.sqrt(len(diffs))) if len(diffs) > 1 else float("nan")
    better, worse = int((diffs > 1e-9).sum()), int((diffs < -1e-9).sum())
    return (
        f"{a} - {b}: {diffs.mean():+.3f} +- {se:.3f} (s.e., {len(diffs)} prompts; "
        f"{a} better on {better}, worse on {worse}, equal on {len(diffs) - better - worse})"
    )


class OtherSeed:
    """The same expander filling open choices from another seed than the video's (the control arm)."""

    def __init__(self, expander, offset: int = CONTROL_SEED_OFFSET):
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
        "--minutes", type=float, default=0, help="start no new prompt after this many minutes (0: no limit)"
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="a third video per prompt, expanded from another seed (see the module docstring)",
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
        arms["control"] = OtherSeed(pipe.expander)
    rows = pick(
        [json.loads(line) for line in Path(args.prompts).read_text().splitlines() if line.strip()], args.limit
    )
    rows = [rows[i] for i in spread_order(len(rows))]
    print(f"model {pipe.spec.name}, up to {len(rows)} prompts, steps {args.steps or pipe.spec.num_steps}")
    print(f"{'id':6} {'lang':4} {'group':11} " + " ".join(f"{a:>10}" for a in arms) + "  prompt")
    results, start = [], time.perf_counter()
    sink = open(args.out, "w") if args.out else None
    for r in rows:
        if args.minutes and time.perf_counter() - start > 60 * args.minutes:
            print(f"time budget of {args.minutes} min reached: stopping after {len(results)} prompts")
            break
        frames = 1 + 4 * math.ceil(r["seconds"] * r["fps"] / 4)  # the model makes 1 + 4k frames
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
            expansion = video.metadata.get("expansion")
            row[f"source_{arm}"] = expansion["source"] if expansion else "none"
        results.append(row)
        if sink:
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
        cells = " ".join(f"{fmt(row[a]['overall']):>10}" for a in arms)
        print(f"{r['id']:6} {r['lang']:4} {r['group']:11} {cells}  {r['prompt']}", flush=True)
    if sink:
        sink.close()
    pipe.expander = arms["with"]
    if not results:
        return
    report(results, list(arms), DIMENSIONS, time.perf_counter() - start)


def report(results: list[dict], arms: list[str], dimensions: tuple, seconds: float) -> None:
    print(f"\n{len(results)} prompts x {len(arms)} videos in {seconds:.0f} s")
    print(f"{'dimension':12} " + " ".join(f"{a:>10}" for a in arms) + "    n")
    for dim in (*dimensions, "overall"):
        n = sum(x["with"][dim] is not None for x in results)  # which dimensions apply: the prompt decides
        cells = " ".join(f"{fmt(mean([x[a][dim] for x in results])):>10}" for a in arms)
        print(f"{dim:12} {cells} {n:4}")
    for lang in ("en", "ko"):
        sub = [x for x in results if x["lang"] == lang]
        if sub:
            cells = ", ".join(f"{a} {fmt(mean([x[a]['overall'] for x in sub]))}" for a in arms)
            print(f"overall {lang} ({len(sub)} prompts): {cells}")
    for arm in arms:
        sources = [x[f"source_{arm}"] for x in results]
        print(f"captions {arm}: " + ", ".join(f"{s} {sources.count(s)}" for s in sorted(set(sources))))
    print(paired(results, "with", "without"))
    if "control" in arms:
        print(paired(results, "control", "without") + "  <- expansion, nothing aligned with the seed")
        print(paired(results, "with", "control") + "  <- aligning unstated choices with the seed")
        print(f"overall_with_expansion_control={fmt(mean([x['control']['overall'] for x in results]))}")
    w = mean([x["with"]["overall"] for x in results])
    wo = mean([x["without"]["overall"] for x in results])
    print(f"overall_with_expansion={fmt(w)} overall_without={fmt(wo)}")


if __name__ == "__main__":
    main()
