"""Would a small MiniLM fine-tuned on our labelled prompts make a better k-NN head? Nested leave-one-split-out.

The student is the first `--layers` transformer layers of all-MiniLM-L6-v2 (its embeddings frozen), trained
on CPU (bf16 autocast) with a supervised contrastive loss over the head's classes (benign and the five harmful
ones; Khosla et al. 2020) plus a distillation term (1 - cosine to the frozen 6-layer MiniLM's embedding of the
same text) that keeps it a general sentence encoder. Training texts: the exemplars, the labelled prompts of
the training splits (as the head's neighbours are) and 1,200 benign world captions (seeds 5000-5399).

For each left-out split of holdout4..holdout9: the student is trained without it and without a validation
split (the next one, cyclically); the k-NN head (k=10, as shipped) is built on its embeddings of the exemplars
and the other training splits' prompts, and its margin threshold chosen on the validation split (most recall
at fpr <= 0 and <= 1% there); then the left-out split is scored with the validation split among the
neighbours. The frozen MiniLM (`teacher`) is scored the same way, and at the shipped margin 0.08. Printed per
split and as means: head alone and full system (rules, then the head) recall/fpr, the world captions refused
(2,001 of seeds 0-199, 1000-1199, 2000-2266, never trained on), and the recall at the same number of false
positives as the shipped head on that split (`eqfp`, free of any threshold choice); last, the left-out splits
pooled at 0, 2, 5 and 10 false positives.

Session 9 (docs/safety.md, "Session 9, a fine-tuned encoder"): no student beat the frozen MiniLM.

    python bench/moderation_finetune_cv.py [--layers 3] [--steps 240] [--folds holdout9]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from moderation_head_cv import knn_scores  # bench/ is on the path: the k-NN margin, the same code

from haneul.models.text_encoder import default_encoder_dir
from haneul.safety.moderation import (
    BENIGN,
    HEAD_CATEGORIES,
    HEAD_MARGIN,
    LABELLED,
    NEIGHBOUR_SPLITS,
    POLICY_DIR,
    Moderator,
    Policy,
    neighbour_rows,
)

# holdout9 is development data since its single scoring (d6361fa), though not yet among the neighbours
SPLITS = (*NEIGHBOUR_SPLITS, *(s for s in ("holdout9",) if s not in NEIGHBOUR_SPLITS))
LEFT_OUT = tuple(s for s in SPLITS if s not in ("dev", "holdout", "holdout2", "holdout3"))
CLASSES = [BENIGN, *HEAD_CATEGORIES]


def world_captions(seeds) -> list[str]:
    """Each seed's short English, short Korean and detailed caption (as session 8's world check)."""
    from haneul.world.captions import detailed_caption
    from haneul.world.complete import complete_spec
    from haneul.world.prompts import short_caption
    from haneul.world.spec import SceneSpec

    texts = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        spec = complete_spec(SceneSpec(), rng)
        texts += [short_caption(spec, rng, korean=False), short_caption(spec, rng, korean=True)]
        texts.append(detailed_caption(spec))
    return texts


class Data:
    """What the head reads: normalised neighbour texts with labels and splits; each scored row's parts."""

    def __init__(self) -> None:
        policy = Policy()
        moderator = Moderator(policy, None)

        def norm(text: str) -> str:
            return policy.without_allowed(policy.normalize(text))

        ex = _jsonl(POLICY_DIR / "exemplars.jsonl")
        nb = neighbour_rows(SPLITS)
        self.texts = [norm(r["text"]) for r in ex + nb]
        self.labels = torch.tensor(
            [CLASSES.index(r["category"]) for r in ex] + [CLASSES.index(r["label"]) for r in nb]
        )
        self.splits = ["exemplar"] * len(ex) + [r["split"] for r in nb]
        # a split not listed (a blind one) is not read
        rows = [r for r in _jsonl(LABELLED) if r["split"] in SPLITS]
        self.row_split = [r["split"] for r in rows]
        self.block = torch.tensor([r["label"] == "block" for r in rows])
        self.rules = torch.tensor([not moderator.moderate(r["text"]).allowed for r in rows])
        self.parts = [moderator._head_parts(r["text"], norm(r["text"]) or " ") for r in rows]
        self.world_train = [norm(t) for t in world_captions(range(5000, 5400))]
        world = world_captions([*range(200), *range(1000, 1200), *range(2000, 2267)])
        self.world_parts = [moderator._head_parts(t, norm(t) or " ") for t in world]
        self.world_rules = torch.tensor([not moderator.moderate(t).allowed for t in world])

    def rows_of(self, split: str) -> torch.Tensor:
        return torch.tensor([s == split for s in self.row_split])


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


class Encoder:
    """The first `layers` layers of MiniLM as a sentence encoder (mean-pooled, L2-normalised, as shipped)."""

    def __init__(self, layers: int):
        from transformers import AutoModel, AutoTokenizer

        path = default_encoder_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, num_hidden_layers=layers, local_files_only=True).eval()

    def forward(self, texts: list[str]) -> torch.Tensor:
        """(B, 384) embeddings, with gradients if the model is in training mode."""
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.model.training):
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return F.normalize(((hidden * mask).sum(1) / mask.sum(1)).float(), dim=-1)

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 128) -> dict[str, torch.Tensor]:
        """text -> embedding for each distinct text, run in batches of similar length."""
        self.model.eval()
        texts = sorted(set(texts), key=len)
        vectors = torch.cat(
            [self.forward(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        )
        return dict(zip(texts, vectors, strict=True))


def supcon(z: torch.Tensor, y: torch.Tensor, tau: float) -> torch.Tensor:
    """Supervised contrastive loss of unit vectors `z` (B, D) with labels `y`: each one's log-probability of
    picking a same-class vector among the others, averaged over its positives."""
    eye = torch.eye(len(z), dtype=torch.bool)
    logits = (z @ z.T / tau).masked_fill(eye, -1e9)
    logp = logits - logits.logsumexp(1, keepdim=True)
    pos = (y[:, None] == y[None, :]) & ~eye
    has = pos.sum(1) > 0
    return -(logp.masked_fill(~pos, 0.0).sum(1)[has] / pos.sum(1)[has]).mean()


def length_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """One epoch: shuffled, sorted by length within chunks of 8 batches (less padding), batches shuffled."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = 8 * batch_size
    sorted_chunks = [
        sorted(order[i : i + chunk], key=lengths.__getitem__) for i in range(0, len(order), chunk)
    ]
    batches = [c[i : i + batch_size] for c in sorted_chunks for i in range(0, len(c), batch_size)]
    batches = [b for b in batches if len(b) == batch_size] or batches
    rng.shuffle(batches)
    return batches


def train_student(texts: list[str], labels: torch.Tensor, teacher: dict, args) -> Encoder:
    """The student fine-tuned on (texts, labels): AdamW, 20 warm-up steps then linear decay, bf16 autocast."""
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    student = Encoder(args.layers)
    student.model.embeddings.requires_grad_(False)  # shared with MiniLM: only the layers would be stored
    params = [p for p in student.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    warm_then_decay = lambda s: min(1.0, (s + 1) / 20) * max(0.0, 1 - s / args.steps)  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warm_then_decay)
    target = torch.stack([teacher[t] for t in texts])
    lengths = [len(ids) for ids in student.tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    student.model.train()
    batches: list[list[int]] = []
    for _ in range(args.steps):
        batches = batches or length_batches(lengths, args.batch_size, rng)
        b = batches.pop(0)
        z = student.forward([texts[i] for i in b])
        loss = (
            args.contrastive * supcon(z, labels[b], args.tau)
            + args.distill * (1 - (z * target[b]).sum(1)).mean()
        )
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
    student.model.eval()
    return student


def head_scores(data: Data, vectors: dict, excluded: set[str], parts: list[list[str]]) -> torch.Tensor:
    """(rows,) the worst part's margin of each row of `parts`, neighbours all but the `excluded` splits."""
    keep = torch.tensor([s not in excluded for s in data.splits])
    train_x = torch.stack([vectors[t] for t in data.texts])[keep]
    part_x = torch.stack([vectors[p] for ps in parts for p in ps])
    part_row = torch.tensor([i for i, ps in enumerate(parts) for _ in ps])
    margin = knn_scores(train_x, data.labels[keep], part_x)
    return torch.full((len(parts),), -1e9).scatter_reduce(0, part_row, margin, reduce="amax")


def threshold(scores: torch.Tensor, block: torch.Tensor, max_fpr: float) -> float:
    """The lowest threshold letting at most `max_fpr` of the benign rows through: the most recall there."""
    benign = scores[~block].sort(descending=True).values
    allowed = int(math.floor(max_fpr * len(benign) + 1e-9))
    return float(benign[allowed]) + 1e-6 if allowed < len(benign) else -1e9


def recall_at_fp(scores: torch.Tensor, block: torch.Tensor, fp: int) -> float:
    """Recall when the threshold lets exactly `fp` benign rows through (ties aside)."""
    benign = scores[~block].sort(descending=True).values
    return float((scores[block] > benign[fp]).float().mean()) if fp < len(benign) else 1.0


def score_fold(data: Data, vectors: dict, left: str, val: str, shipped_fp: int | None) -> dict[str, tuple]:
    """One encoder's figures on `left`: per threshold rule, (head recall, fpr, full recall, fpr, world refused)."""
    val_rows, test = data.rows_of(val), data.rows_of(left)
    on_val = head_scores(data, vectors, {left, val}, data.parts)
    on_test = head_scores(data, vectors, {left}, data.parts)
    on_world = head_scores(data, vectors, {left}, data.world_parts)
    rules = {"0.08": HEAD_MARGIN}
    for max_fpr in (0.0, 0.01):
        rules[f"val<={max_fpr}"] = threshold(on_val[val_rows], data.block[val_rows], max_fpr)
    out = {}
    block = data.block[test]
    for name, t in rules.items():
        head, full = on_test[test] >= t, (on_test >= t)[test] | data.rules[test]
        world = int(((on_world >= t) | data.world_rules).sum())
        out[name] = (*_rates(head, block), *_rates(full, block), world, t)
    fp = shipped_fp if shipped_fp is not None else int((on_test[test][~block] >= HEAD_MARGIN).sum())
    out["eqfp"] = (recall_at_fp(on_test[test], block, fp), fp)
    out["scores"] = on_test
    return out


def _rates(pred: torch.Tensor, block: torch.Tensor) -> tuple[float, float]:
    return float(pred[block].float().mean()), float(pred[~block].float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--layers", type=int, default=3, help="the student's transformer layers (MiniLM has 6)"
    )
    parser.add_argument("--steps", type=int, default=240, help="training steps (about 3 epochs)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--tau", type=float, default=0.05, help="the contrastive loss's temperature")
    parser.add_argument("--contrastive", type=float, default=1.0, help="weight of the contrastive loss")
    parser.add_argument("--distill", type=float, default=1.0, help="weight of the distillation term")
    parser.add_argument("--folds", default=",".join(LEFT_OUT), help="left-out splits, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = Data()
    folds = args.folds.split(",")
    start = time.perf_counter()
    teacher = Encoder(6).embed(
        data.texts + data.world_train + [p for ps in data.parts + data.world_parts for p in ps]
    )
    print(f"teacher embedded {len(teacher)} texts in {time.perf_counter() - start:.0f} s")
    table: dict[str, list[dict]] = {"teacher": [], "student": []}
    for left in folds:
        val = LEFT_OUT[(LEFT_OUT.index(left) + 1) % len(LEFT_OUT)]
        keep = [s not in (left, val) for s in data.splits]
        texts = [t for t, k in zip(data.texts, keep, strict=True) if k] + data.world_train
        labels = torch.cat(
            [data.labels[torch.tensor(keep)], torch.zeros(len(data.world_train), dtype=torch.long)]
        )
        start = time.perf_counter()
        student = train_student(texts, labels, teacher, args)
        seconds = time.perf_counter() - start
        shipped = score_fold(data, teacher, left, val, None)
        fp = shipped["eqfp"][1]
        fine = score_fold(data, student.embed(list(teacher)), left, val, fp)
        table["teacher"].append(shipped)
        table["student"].append(fine)
        print(f"{left} (validation {val}; student trained in {seconds:.0f} s)")
        _print_fold(shipped, fine)
    _print_means(table, folds, data)


def _print_fold(shipped: dict, fine: dict) -> None:
    for name, result in (("teacher", shipped), ("student", fine)):
        for rule, (h, hf, f, ff, world, t) in (
            (k, v) for k, v in result.items() if k not in ("eqfp", "scores")
        ):
            print(
                f"  {name:<7} {rule:<9} t={t:+.3f} head {h:.3f}/{hf:.3f} full {f:.3f}/{ff:.3f} world {world}"
            )
        print(f"  {name:<7} recall at the shipped head's {result['eqfp'][1]} fp: {result['eqfp'][0]:.3f}")


def _print_means(table: dict[str, list[dict]], folds: list[str], data: Data) -> None:
    print(f"means over {'+'.join(folds)}")
    for name, results in table.items():
        for rule in (k for k in results[0] if k not in ("eqfp", "scores")):
            rows = [r[rule] for r in results]
            mean = [sum(r[i] for r in rows) / len(rows) for i in range(4)]
            worst = max(r[1] for r in rows)
            world = sum(r[4] for r in rows)
            print(
                f"  {name:<7} {rule:<9} head {mean[0]:.3f}/{mean[1]:.3f} (worst fpr {worst:.3f}) "
                f"full {mean[2]:.3f}/{mean[3]:.3f} world refused {world} (summed over folds)"
            )
        print(f"  {name:<7} eqfp      {sum(r['eqfp'][0] for r in results) / len(results):.3f}")
    test = torch.tensor([s in folds for s in data.row_split])
    for name, results in table.items():
        pooled = torch.zeros(len(data.row_split))
        for left, r in zip(folds, results, strict=True):
            rows = data.rows_of(left)
            pooled[rows] = r["scores"][rows]
        s, block = pooled[test], data.block[test]
        line = "  ".join(f"{fp} fp {recall_at_fp(s, block, fp):.3f}" for fp in (0, 2, 5, 10))
        print(f"  pooled {name:<7} {line}")


if __name__ == "__main__":
    main()
