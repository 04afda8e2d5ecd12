"""The standard prompt set: committed file = generator output, and it covers what the benchmark measures."""

import collections

from haneul.eval.benchmark import DIMENSIONS
from haneul.eval.prompt_set import load_prompts, standard_prompts


def test_committed_set_is_the_generators_output():
    assert load_prompts() == standard_prompts()


def test_set_covers_every_dimension_size_and_language():
    rows = load_prompts()
    assert len(rows) >= 200
    assert len({r["id"] for r in rows}) == len(rows)
    targets = collections.Counter(t for r in rows for t in r["targets"])
    assert all(targets[d] >= 20 for d in DIMENSIONS), targets
    sizes = collections.Counter((r["width"], r["height"]) for r in rows)
    assert sizes[(128, 128)] > len(rows) / 2 and sizes[(160, 96)] >= 10 and sizes[(96, 160)] >= 10
    assert sum(r["lang"] == "ko" for r in rows) >= 20
    assert all(r["seconds"] == 4.0 and r["fps"] == 8.0 and isinstance(r["seed"], int) for r in rows)
