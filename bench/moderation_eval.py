"""Score prompt moderation on the labelled prompt set (src/haneul/safety/data/moderation_prompts.jsonl).

The set is disjoint from the head's exemplars (checked below). The labelled prompts of NEIGHBOUR_SPLITS are
neighbours of the head too, so every split is scored leave-one-split-out: by a head without that split's
prompts (a split not in NEIGHBOUR_SPLITS, such as a new blind one, is never among them). Its `split` says how it was used, in the order
the splits were written: "dev" prompts were written before the policy and then used while developing it
(their errors were looked at and the policy grew with them); "holdout" to "holdout4" were each written (the
later ones blind, by someone who had not seen the policy), scored once, then used to develop the policy, so
they are development data now (session 4 looked at holdout4's errors). "holdout5" was written blind, scored
once (session 5) and then used for development in session 6. "holdout6" (416 prompts written blind in session
6 by a helper who never opened the policy, the moderator's code or the labelled set; 9 that repeated earlier
splits' prompts word for word were dropped, 407 kept) was scored once (0.940/0.018) and then used for
development. "holdout7" (414 written blind the same way later in session 6; 11 repeats of earlier prompts
dropped, 403 kept) was scored once at the end of session 6 (0.934/0.014) and then used for development in
session 7. "holdout8" (416 written blind the same way in session 7; 7 repeats dropped, 409 kept) was scored
once at the end of session 7 (0.903/0.004) and then used for development in session 8. "holdout9" (421
written blind the same way in session 8; 5 repeats dropped, 416 kept) was scored once at the end of session
8 (0.924/0.030) and then used for development in session 9. "holdout10" (421 written blind the same way in
session 9; 18 repeats of earlier prompts or exemplars dropped, 403 kept) was scored once at the end of session 9
(0.917/0.009) and then used for development in session 10. "holdout11" (421 written blind the same way in session
10; 12 repeats of earlier prompts or exemplars dropped, 409 kept) was appended for its single scoring at the end of
session 10: it is the held-out one, and the last line is its figure.
Prints per-category precision and recall, the misses and false positives, the same recall/FPR for the
rules alone and the embedding head alone (which part earns what), load time and time per prompt, the
frame check's cost on a 33-frame 128x128 clip; the last line is `recall_block=... fpr_allow=...` on the newest held-out split.

    python bench/moderation_eval.py [--errors]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch

from haneul.safety.moderation import CATEGORIES, NEIGHBOUR_SPLITS, POLICY_DIR, Moderator, neighbour_rows

DATA = Path(__file__).parents[1] / "src/haneul/safety/data/moderation_prompts.jsonl"
# Splits in the order they were written. Each earlier one was scored once and then used to develop the policy,
# so only the last split is held out; when the policy changes after seeing it, a fresh split must be added.
# `--errors` never prints the last split's errors (so they cannot leak into tuning).
SPLITS = (
    "dev",
    "holdout",
    "holdout2",
    "holdout3",
    "holdout4",
    "holdout5",
    "holdout6",
    "holdout7",
    "holdout8",
    "holdout9",
    "holdout10",
    "holdout11",
)


def load_rows(path: Path = DATA) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def rates(rows: list[dict], preds: list[str | None]) -> tuple[float, float]:
    """(recall on block rows, false-positive rate on allow rows) of binary decisions."""
    block = [p is not None for r, p in zip(rows, preds, strict=True) if r["label"] == "block"]
    allow = [p is not None for r, p in zip(rows, preds, strict=True) if r["label"] == "allow"]
    return sum(block) / len(block), sum(allow) / len(allow)


def per_category(rows: list[dict], preds: list[str | None]) -> None:
    print(f"{'category':<22}{'n':>4}{'precision':>11}{'recall':>8}")
    for cat in CATEGORIES:
        n = sum(r["label"] == "block" and r["category"] == cat for r in rows)
        tp = sum(
            r["label"] == "block" and r["category"] == cat and p == cat
            for r, p in zip(rows, preds, strict=True)
        )
        predicted = sum(p == cat for p in preds)
        prec = tp / predicted if predicted else float("nan")
        print(f"{cat:<22}{n:>4}{prec:>11.3f}{tp / max(n, 1):>8.3f}")


def breakdown(rows: list[dict], preds: list[str | None], key: str) -> None:
    for value in sorted({r[key] for r in rows}):
        sub = [(r, p) for r, p in zip(rows, preds, strict=True) if r[key] == value]
        blocked = [p is not None for r, p in sub if r["label"] == "block"]
        allowed = [p is not None for r, p in sub if r["label"] == "allow"]
        rec = f"{sum(blocked) / len(blocked):.3f} of {len(blocked)}" if blocked else "-"
        fpr = f"{sum(allowed) / len(allowed):.3f} of {len(allowed)}" if allowed else "-"
        print(f"  {key}={value:<14} recall {rec:<14} fpr {fpr}")


def cross_validate(rows: list[dict], rules_only: list[str | None], verdicts: list) -> None:
    """Leave one development split out: choose the head's margin on the other splits (the most recall with at
    most 1% false positives there), score the left-out split with it. `verdicts` already come from heads
    without the left-out split's prompts among their neighbours; the rules were written looking at every
    development split, so this is a development figure; only the last split's is held out."""
    dev = [s for s in SPLITS[:-1] if any(r["split"] == s for r in rows)]
    grid = [round(0.04 + 0.01 * i, 2) for i in range(14)]

    def preds(idx: list[int], margin: float) -> list[str | None]:
        return [rules_only[i] or ("x" if verdicts[i].margin >= margin else None) for i in idx]

    out: list[str | None] = [None] * len(rows)
    chosen = []
    for left_out in dev:
        train = [i for i, r in enumerate(rows) if r["split"] in dev and r["split"] != left_out]
        scored = [(rates([rows[i] for i in train], preds(train, m)), m) for m in grid]
        best = max(scored, key=lambda x: (x[0][1] <= 0.01, x[0][0], -x[0][1]))[1]
        chosen.append(best)
        test = [i for i, r in enumerate(rows) if r["split"] == left_out]
        for i, p in zip(test, preds(test, best), strict=True):
            out[i] = p
    idx = [i for i, r in enumerate(rows) if r["split"] in dev]
    rec, fpr = rates([rows[i] for i in idx], [out[i] for i in idx])
    print(
        f"{'cross-validated':<20} recall_block={rec:.3f} fpr_allow={fpr:.3f} on {'+'.join(dev)} "
        f"(margin chosen on the other splits: {chosen})"
    )


def leave_out(moderator: Moderator, split: str) -> Moderator:
    """`moderator` with the labelled prompts of `split` taken out of the head's neighbours (the exemplars come
    first in the head, then the labelled neighbours in file order: see Moderator.load)."""
    if moderator.head is None or split not in NEIGHBOUR_SPLITS:
        return moderator
    n_exemplars = sum(1 for ln in (POLICY_DIR / "exemplars.jsonl").open() if ln.strip())
    keep = [True] * n_exemplars + [r["split"] != split for r in neighbour_rows()]
    assert len(keep) == len(moderator.head.texts), "neighbours out of step with Moderator.load"
    head = copy.copy(moderator.head)
    mask = torch.tensor(keep)
    head.vectors, head.labels = head.vectors[mask], head.labels[mask]
    head.texts = [t for t, k in zip(head.texts, keep, strict=True) if k]
    return Moderator(moderator.policy, head)


def frame_check_cost() -> None:
    """Time the frame check on a 33-frame 128x128 clip (the bundled model's 4 s clip), median of 5."""
    import numpy as np

    from haneul.safety.frames import check_frames, load_checker, nudenet_installed

    if not nudenet_installed():
        print(
            "frame check: no classifier installed (pip install -e '.[frames]'); check_frames reports ran=False"
        )
        return
    start = time.perf_counter()
    load_checker("nudenet")
    print(f"frame check (nudenet) load {time.perf_counter() - start:.2f} s")
    clip = (np.random.default_rng(0).random((33, 128, 128, 3)) * 255).astype(np.uint8)
    for samples in (1, 3, 5, 33):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            result = check_frames(clip, checker="nudenet", samples=samples)
            times.append(time.perf_counter() - start)
        n = len(result.details["frames_checked"])
        print(f"  samples={samples}: {n} frames checked, median {1e3 * statistics.median(times):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--errors",
        action="store_true",
        help="print every miss and false positive (not of the held-out split)",
    )
    parser.add_argument(
        "--errors-holdout", action="store_true", help="also print the held-out split's errors (spoils it)"
    )
    args = parser.parse_args()

    rows = load_rows()
    exemplars = {json.loads(ln)["text"].strip().lower() for ln in (POLICY_DIR / "exemplars.jsonl").open()}
    overlap = [r["text"] for r in rows if r["text"].strip().lower() in exemplars]
    assert not overlap, f"evaluation prompts found among the exemplars: {overlap}"

    moderator = Moderator.load()
    print(f"load {moderator.load_seconds:.2f} s (text encoder + policy + exemplar embeddings)")
    # leave one split out: each split is scored by a head without that split's prompts among its neighbours
    by_split = {s: leave_out(moderator, s) for s in {r["split"] for r in rows}}
    results, times = [], []
    for r in rows:
        start = time.perf_counter()
        results.append(by_split[r["split"]].moderate(r["text"]))
        times.append(time.perf_counter() - start)
    preds = [None if res.allowed else res.category for res in results]
    head_times = [t for t, res in zip(times, results, strict=True) if res.allowed or res.score < 1.0]
    print(
        f"{len(rows)} prompts: per prompt median {1e3 * statistics.median(times):.2f} ms; "
        f"{len(head_times)} that reached the embedding head: median {1e3 * statistics.median(head_times):.1f} ms, "
        f"max {1e3 * max(head_times):.1f} ms"
    )

    rules_only = [
        None if Moderator(moderator.policy, None).moderate(r["text"]).allowed else "x" for r in rows
    ]
    head_preds, verdicts = [], []
    for r in rows:
        verdict = by_split[r["split"]].head_verdict(r["text"])
        verdicts.append(verdict)
        head_preds.append("x" if verdict.blocks else None)
    for name, p in (("rules only", rules_only), ("head only", head_preds), ("combined", preds)):
        rec, fpr = rates(rows, p)
        print(f"{name:<20} recall_block={rec:.3f} fpr_allow={fpr:.3f}")

    cross_validate(rows, rules_only, verdicts)
    per_category(rows, preds)
    breakdown(rows, preds, "lang")
    breakdown(rows, preds, "kind")
    breakdown(rows, preds, "split")
    if args.errors:
        for r, res in zip(rows, results, strict=True):
            if r["split"] == SPLITS[-1] and not args.errors_holdout:
                continue
            if (r["label"] == "block") == res.allowed or (not res.allowed and res.category != r["category"]):
                tag = "MISS" if res.allowed else ("FP" if r["label"] == "allow" else f"CAT {res.category}")
                print(f"{tag:<24} [{r['category']}] {r['text']!r} -> {res.reason}")
    frame_check_cost()
    rec, fpr = rates(rows, preds)
    print(f"{'all':<9} recall_block={rec:.3f} fpr_allow={fpr:.3f}")
    for split in SPLITS:
        sub = [(r, p) for r, p in zip(rows, preds, strict=True) if r["split"] == split]
        if not sub:
            print(f"{split:<9} not in the data file yet")
            continue
        rec, fpr = rates([r for r, _ in sub], [p for _, p in sub])
        print(f"{split:<9} recall_block={rec:.3f} fpr_allow={fpr:.3f}")
    # the last line is the newest held-out split: the only one the policy was not developed on
    if any(r["split"] == SPLITS[-1] for r in rows):
        print(f"recall_block={rec:.3f} fpr_allow={fpr:.3f}")
    else:
        print(f"no held-out figure: split {SPLITS[-1]!r} is not in {DATA.name} yet")


if __name__ == "__main__":
    main()
