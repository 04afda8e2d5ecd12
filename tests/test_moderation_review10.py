"""Review of session 10's prompt-check speed-ups: the head's grouped scoring, the rules' prefilter and the
cache pruning keep the decisions and the cache entries in use."""

import json
import os
import shutil

import pytest
import torch
import yaml

from haneul.safety import onnx_encoder
from haneul.safety.moderation import LABELLED, POLICY_DIR, EmbeddingHead, Policy


def test_a_head_without_harmful_exemplars_still_gives_a_verdict():
    """The grouped scoring looked for the nearest exemplar in an empty slice (numpy: ValueError)."""
    from haneul.models.text_encoder import shared_encoder

    head = EmbeddingHead(shared_encoder(), ["a ball", "a dog"], ["benign", "benign"], cache=False)
    (verdict,) = head.verdicts(["a red ball"])
    assert verdict.margin < -1.0 and verdict.nearest == ""
    both = EmbeddingHead(
        shared_encoder(), ["a ball", "a man shot dead"], ["benign", "violence_graphic"], cache=False
    )
    assert both.verdict("a dog").nearest == "a man shot dead"
    assert torch.equal(both.labels, torch.tensor([0, 2]))


def _entries(folder, n: int, mtime_s: int = 1) -> list:
    files = []
    for i in range(n):
        f = folder / f"exemplars-{i:02d}.pt"
        f.write_bytes(b"x")
        os.utime(f, ns=(mtime_s * 10**9, mtime_s * 10**9))
        files.append(f)
    return files


def test_the_entry_just_written_survives_pruning_on_a_tied_clock(tmp_path):
    """With equal times the sort kept whichever the directory listed first (2 in 10 just-written entries
    were deleted in the review's run)."""
    for j in range(10):
        for f in tmp_path.glob("*.pt"):
            f.unlink()
        files = _entries(tmp_path, 10)
        onnx_encoder.prune(files, keep=8, written=files[j])
        assert files[j].exists() and len(list(tmp_path.glob("*.pt"))) == 8


def test_a_cache_entry_still_read_is_not_pruned_by_newer_writes(tmp_path):
    used = _entries(tmp_path, 1)[0]
    for i in range(8):  # eight other policies written one after another, the used entry read in between
        other = tmp_path / f"exemplars-other{i}.pt"
        other.write_bytes(b"x")
        os.utime(other, ns=((2 + i) * 10**9, (2 + i) * 10**9))
        onnx_encoder.mark_used(used)
        onnx_encoder.prune(list(tmp_path.glob("exemplars-*.pt")), keep=8, written=other)
    assert used.exists() and len(list(tmp_path.glob("*.pt"))) == 8


def test_the_rule_prefilter_decides_nothing():
    """The same rule hits with every rule looked at and every concept searched (the older test of the
    concept shortcut searched every concept but still skipped rules by the prefilter)."""
    policy = Policy()
    rows = [json.loads(ln) for ln in LABELLED.read_text(encoding="utf-8").splitlines() if ln.strip()]
    ruled = [policy.without_allowed(policy.normalize(r["text"])) for r in rows[::5]]
    fast = [policy.hits(r, korean=False) for r in ruled]
    policy.rule_needs = [frozenset()] * len(policy.rules)
    policy._possible_concepts = lambda present: set(policy.concepts)  # every concept searched
    assert [policy.hits(r, korean=False) for r in ruled] == fast
    assert sum(map(bool, fast)) > 50


def test_a_rule_naming_an_undefined_concept_is_refused_at_load(tmp_path):
    """The prefilter skips a rule whose concept no word can start: one naming a misspelt concept would never
    fire, silently (it raised KeyError at the first prompt that reached it before the prefilter)."""
    for f in POLICY_DIR.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    data = yaml.safe_load((tmp_path / "policy.yaml").read_text(encoding="utf-8"))
    data["rules"].append({"category": "hate", "all": [next(iter(data["concepts"])), "no_such_concept"]})
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="no_such_concept"):
        Policy(tmp_path)


def test_the_grouped_exemplars_follow_in_place_edits():
    """`_by_class` is rebuilt when `vectors` or `labels` are replaced; an in-place edit kept the old grouping."""
    from haneul.models.text_encoder import shared_encoder

    texts, labels = ["a ball", "a man shot dead"], ["benign", "violence_graphic"]
    head = EmbeddingHead(shared_encoder(), texts, labels, cache=False)
    assert head.verdict("a man shot dead").margin > 0.5
    head.labels[1] = 0  # the violent exemplar relabelled benign in place
    assert head.verdict("a man shot dead").margin < -1.0
    head.labels[1] = 2
    head.vectors[1] = head.vectors[0]  # and its vector replaced by the ball's
    assert head.verdict("a man shot dead").margin == pytest.approx(0.0, abs=1e-6)


def test_the_pipeline_and_the_moderator_share_one_encoder():
    """b45c0d4: `shared_encoder()` and the pipeline's `shared_encoder(name, 256)` are one cache entry."""
    from haneul.models.text_encoder import DEFAULT_ENCODER, shared_encoder

    assert shared_encoder() is shared_encoder(DEFAULT_ENCODER, 256) is shared_encoder(max_length=256)
    assert shared_encoder() is not shared_encoder(DEFAULT_ENCODER, 77)
