"""Review of session 10's prompt-check speed-ups: the head's grouped scoring, the rules' prefilter and the
cache pruning keep the decisions and the cache entries in use."""

import torch

from haneul.safety.moderation import EmbeddingHead


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
