"""The prompt check's encoder batching: texts grouped by length embed as one padded batch does."""

import pytest
import torch

from haneul.safety.moderation import EmbeddingHead, _length_groups


def test_length_groups_cover_every_text_once_within_limits():
    lengths = sorted([3, 4, 4, 5, 9, 10, 10, 11, 30, 31, 60])
    groups = _length_groups(lengths, batch_size=3)
    assert [i for g in groups for i in g] == list(range(len(lengths)))
    for g in groups:
        run = lengths[g.start : g.stop]
        assert len(run) <= 3
        assert len(run) == 1 or max(run) * len(run) <= 1.25 * sum(run)
    assert len(_length_groups([7] * 10, batch_size=64)) == 1  # equal lengths: one call
    assert _length_groups([], batch_size=64) == []


@pytest.fixture(scope="module")
def head():
    from haneul.models.text_encoder import shared_encoder

    return EmbeddingHead(shared_encoder(), ["a ball"], ["benign"], cache=False)


def test_grouped_embeddings_match_one_padded_batch(head):
    texts = [
        "a ball",
        "a cyan ball to the left of a purple star, both spinning, on a black background",
        "two cubes",
        "a red heart moves up and to the left steadily while the camera slowly zooms in on the sand",
        "a dog",
    ]
    tok = head.encoder.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = head.hidden_states(tok["input_ids"], tok["attention_mask"])
    mask = tok["attention_mask"].unsqueeze(-1).float()
    want = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    got = head.embed(texts)
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(head.embed(texts[1:2]), want[1:2], atol=1e-5)  # alone as in a batch
