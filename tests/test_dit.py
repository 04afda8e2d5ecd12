"""The diffusion transformer: every grid kind, identity at init, packing equivalence, given frames, RoPE."""

import dataclasses

import pytest
import torch

from haneul.errors import InputError
from haneul.models.dit import (
    PRESETS,
    DiT,
    DiTConfig,
    add_pooled_text,
    add_positions,
    add_refiner,
    attention,
    dit_config,
    frame_places,
    grow_depth,
    pooled_text,
)
from haneul.models.rope import apply_rope, axis_pairs, rope_tables


def randomised(config: DiTConfig, seed: int = 0) -> DiT:
    """A model whose zero-initialised parts are random too, so every path contributes to the output."""
    torch.manual_seed(seed)
    model = DiT(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def inputs(config: DiTConfig, grid: tuple[int, int, int], batch: int = 2, text_len: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    f = grid[0]
    latents = torch.randn(batch, config.in_channels, *grid, generator=g)
    t = torch.rand(batch, f, generator=g)
    given = torch.zeros(batch, f, dtype=torch.bool)
    given[:, 0] = f > 1  # first frame given (image-to-video) when there is more than one
    t[given] = 0
    context = torch.randn(batch, text_len, config.text_dim, generator=g)
    mask = torch.ones(batch, text_len, dtype=torch.bool)
    mask[-1, text_len // 2 :] = False  # the last prompt is shorter: padded
    return latents, t, context, mask, given


GRIDS = {
    "image": (1, 8, 8),
    "long": (9, 4, 4),
    "landscape": (2, 4, 12),
    "portrait": (2, 12, 4),
    "square": (3, 6, 6),
}


@pytest.mark.parametrize("kind", list(GRIDS))
def test_shapes_for_every_grid_kind(kind):
    config = dit_config("tiny")
    model = randomised(config)
    latents, *rest = inputs(config, GRIDS[kind])
    out = model(latents, *rest)
    assert out.shape == latents.shape
    assert out.dtype == latents.dtype
    assert torch.isfinite(out).all()


def test_temporal_patches_and_bf16_autocast():
    config = DiTConfig(**{**vars(dit_config("tiny")), "patch_size": (2, 2, 2)})
    model = randomised(config)
    args = inputs(config, (4, 4, 6))
    out = model(*args)
    assert out.shape == args[0].shape
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(*args)
    assert low.dtype == torch.float32  # returned in the latents' dtype
    assert (low - out).abs().max() < 0.05 * out.abs().max()


def test_blocks_are_identity_and_output_zero_at_init():
    config = dit_config("tiny")
    torch.manual_seed(0)
    model = DiT(config)
    latents, t, context, mask, given = inputs(config, (3, 4, 4))
    assert torch.equal(model(latents, t, context, mask, given), torch.zeros_like(latents))
    x = torch.randn(2, 3 * 2 * 2, config.hidden_size)
    mod = model.adaln(model.time_embed(torch.randn(2, 3, config.freq_dim))).unflatten(-1, (6, -1))
    assert torch.equal(mod, torch.zeros_like(mod))  # the shared modulation is zero at init, whatever t
    rope = rope_tables((3, 2, 2), config.hidden_size // config.num_heads)
    ctx = model.text_embed(context)
    for block in model.blocks:
        assert torch.equal(block(x, mod, rope, ctx, None, mask[:, None, None]), x)


def test_every_parameter_learns_within_three_steps():
    """adaLN-Zero starts with most gradients zero; none may stay dead (a disconnected parameter would)."""
    config = dit_config("tiny")
    torch.manual_seed(0)
    model = DiT(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    args = inputs(config, (3, 4, 4))
    learned = {name: False for name, _ in model.named_parameters()}
    for _ in range(3):
        opt.zero_grad()
        (model(*args) - 1).square().mean().backward()
        for name, p in model.named_parameters():
            learned[name] |= bool(p.grad is not None and p.grad.abs().sum() > 0)
        opt.step()
    assert [name for name, ok in learned.items() if not ok] == []


@pytest.mark.parametrize("depth", [3, 4, 7])
def test_grown_model_computes_the_same_and_its_new_blocks_learn(depth):
    config = dataclasses.replace(dit_config("tiny"), depth=2)
    model = randomised(config)
    grown = grow_depth(model, depth)
    assert len(grown.blocks) == grown.config.depth == depth
    args = inputs(config, (3, 4, 4))
    with torch.no_grad():
        torch.testing.assert_close(grown(*args), model(*args))
    assert torch.equal(grown.blocks[-1].mlp.down.weight, model.blocks[-1].mlp.down.weight)
    new = [b for b in grown.blocks if not b.mlp.down.weight.any()]
    assert len(new) == depth - 2
    (grown(*args) - 1).square().mean().backward()
    assert all(b.mlp.down.weight.grad.abs().sum() > 0 for b in new)
    assert all(b.attn.proj.weight.grad.abs().sum() > 0 for b in new)
    with pytest.raises(InputError, match="more than"):
        grow_depth(model, 2)


def test_added_refiner_computes_the_same_then_learns():
    model = randomised(dit_config("tiny"))
    refined = add_refiner(model, 8)
    assert refined.config.refiner_channels == 8
    args = inputs(model.config, (3, 4, 4))
    with torch.no_grad():
        torch.testing.assert_close(refined(*args), model(*args))
    (refined(*args) - 1).square().mean().backward()
    assert refined.refiner.conv_out.weight.grad.abs().sum() > 0
    with torch.no_grad():  # once its last layer moves, it changes the output, frame by frame
        refined.refiner.conv_out.weight.normal_(std=0.1)
        assert not torch.allclose(refined(*args), model(*args))
    with pytest.raises(InputError, match="already has a refiner"):
        add_refiner(refined, 8)


def test_added_positions_compute_the_same_then_tell_places_apart():
    model = randomised(dit_config("tiny"))
    placed = add_positions(model, 3)
    assert placed.config.position_bands == 3
    # Pure noise in every token, as at t = 1: a RoPE-only model answers the same wherever a token sits, up to
    # the grid's edges; with places learnt, the top row and the bottom row differ.
    args = inputs(model.config, (1, 6, 6))
    with torch.no_grad():
        torch.testing.assert_close(placed(*args), model(*args))
    (placed(*args) - 1).square().mean().backward()
    assert placed.place_embed.weight.grad.abs().sum() > 0
    with torch.no_grad():
        placed.place_embed.weight.normal_(std=0.5)
        assert not torch.allclose(placed(*args), model(*args))
    with pytest.raises(InputError, match="already has place features"):
        add_positions(placed, 3)


def test_added_pooled_text_computes_the_same_then_reads_the_whole_caption():
    model = randomised(dit_config("tiny"))
    pooled = add_pooled_text(model)
    assert pooled.config.pooled_text
    latents, t, context, mask, given = inputs(model.config, (2, 4, 4), text_len=6)
    with torch.no_grad():
        torch.testing.assert_close(
            pooled(latents, t, context, mask, given), model(latents, t, context, mask, given)
        )
    (pooled(latents, t, context, mask, given) - 1).square().mean().backward()
    assert pooled.pooled_embed[2].weight.grad.abs().sum() > 0
    with torch.no_grad():  # once learnt, the caption moves every token's modulation
        pooled.pooled_embed[2].weight.normal_(std=0.5)
        assert not torch.allclose(
            pooled(latents, t, context, mask, given), model(latents, t, context, mask, given)
        )
    with pytest.raises(InputError, match="already has a pooled text"):
        add_pooled_text(pooled)


def test_pooled_text_is_the_normalised_mean_of_real_tokens():
    context = torch.randn(2, 5, 8)
    mask = torch.tensor([[True, True, False, False, False], [True] * 5])
    pooled = pooled_text(context, mask)
    expected = torch.nn.functional.normalize(context[0, :2].mean(0), dim=0) * 8**0.5
    torch.testing.assert_close(pooled[0], expected)
    torch.testing.assert_close(pooled.norm(dim=-1), torch.full((2,), 8**0.5))
    assert pooled_text(torch.zeros(3, 0, 8), torch.zeros(3, 0, dtype=torch.bool)).abs().sum() == 0


def test_frame_places_are_fractions_of_the_frame():
    small, big = frame_places((1, 2, 2), 2), frame_places((2, 6, 6), 2)
    assert small.shape == (4, 8) and big.shape == (72, 8)
    # (0.25, 0.25) of the frame: token 0 of a 2x2 grid, token (1, 1) of a 6x6 grid, in every frame
    torch.testing.assert_close(small[0], big[1 * 6 + 1])
    torch.testing.assert_close(big[:36], big[36:])
    assert not torch.allclose(small[0], small[3])  # top left is not bottom right
    assert not torch.allclose(small[1], small[2])  # top right is not bottom left


@pytest.mark.parametrize(
    "refiner_channels,position_bands,pooled", [(0, 0, False), (8, 0, False), (0, 3, False), (0, 0, True)]
)
def test_packed_equals_each_video_alone(refiner_channels, position_bands, pooled):
    config = dataclasses.replace(
        dit_config("tiny"),
        refiner_channels=refiner_channels,
        position_bands=position_bands,
        pooled_text=pooled,
    )
    model = randomised(config, seed=1)
    grids = [(3, 4, 6), (1, 8, 8), (2, 6, 2)]
    text_len = 6
    videos = [inputs(config, grid, batch=1, text_len=text_len, seed=i) for i, grid in enumerate(grids)]
    context = torch.cat([v[2] for v in videos])
    mask = torch.ones(len(grids), text_len, dtype=torch.bool)
    mask[1, 2:] = False  # videos have prompts of different lengths
    mask[2, 4:] = False
    packed = model.forward_packed(
        [v[0][0] for v in videos], [v[1][0] for v in videos], context, mask, [v[4][0] for v in videos]
    )
    for i, (latents, t, _, _, given) in enumerate(videos):
        alone = model(latents, t, context[i : i + 1], mask[i : i + 1], given)
        assert packed[i].shape == latents[0].shape
        torch.testing.assert_close(packed[i], alone[0], atol=1e-4, rtol=0)


def test_batch_rows_are_independent_and_padding_is_ignored():
    config = dit_config("tiny")
    model = randomised(config)
    latents, t, context, mask, given = inputs(config, (2, 4, 4), text_len=6)  # row 1 has 3 real tokens
    both = model(latents, t, context, mask, given)
    trimmed = model(latents[1:], t[1:], context[1:, :3], mask[1:, :3], given[1:])
    torch.testing.assert_close(both[1:], trimmed, atol=1e-5, rtol=0)


def test_given_frames_change_the_prediction():
    config = dit_config("tiny")
    model = randomised(config)
    latents, t, context, mask, given = inputs(config, (3, 4, 4))
    base = model(latents, t, context, mask, given)
    # The mask channel: same latents and times, different given flags -> different output.
    assert not torch.allclose(model(latents, t, context, mask, torch.zeros_like(given)), base)
    # The given frame's content reaches the other frames (through attention).
    changed = latents.clone()
    changed[:, :, 0] += 1.0
    out = model(changed, t, context, mask, given)
    assert not torch.allclose(out[:, :, 1:], base[:, :, 1:])
    # Per-frame time: changing one frame's t changes the output.
    t2 = t.clone()
    t2[:, 2] = 1 - t2[:, 2]
    assert not torch.allclose(model(latents, t2, context, mask, given), base)


def test_bad_inputs_raise():
    config = dit_config("tiny")
    model = DiT(config)
    latents, t, context, mask, given = inputs(config, (2, 4, 4))
    with pytest.raises(InputError, match="patch size"):
        model(latents[..., :3], t, context, mask, given)
    with pytest.raises(InputError, match="channels"):
        model(latents[:, :2], t, context, mask, given)
    with pytest.raises(InputError, match="per latent frame"):
        model(latents, t[:, :1], context, mask, given[:, :1])
    with pytest.raises(InputError, match="at least one unmasked token"):
        model(latents, t, context, torch.zeros_like(mask), given)
    empty = model(latents, t, context[:, :0], mask[:, :0], given)  # no text at all is allowed
    assert torch.isfinite(empty).all()
    with pytest.raises(InputError, match="valid: \\["):
        dit_config("huge")
    with pytest.raises(InputError, match="even"):
        DiT(DiTConfig(hidden_size=60, num_heads=4))


def test_rope_depends_only_on_relative_position():
    head_dim = 24
    cos, sin = rope_tables((4, 5, 6), head_dim)  # (120, 24)
    q, k = torch.randn(head_dim), torch.randn(head_dim)

    def score(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
        ia, ib = a[0] * 30 + a[1] * 6 + a[2], b[0] * 30 + b[1] * 6 + b[2]
        qa = apply_rope(q[None], cos[ia : ia + 1], sin[ia : ia + 1])
        kb = apply_rope(k[None], cos[ib : ib + 1], sin[ib : ib + 1])
        return float(qa @ kb.T)

    assert score((0, 0, 0), (1, 2, 3)) == pytest.approx(score((2, 1, 2), (3, 3, 5)), abs=1e-5)
    assert score((0, 0, 0), (1, 2, 3)) != pytest.approx(score((0, 0, 0), (1, 3, 2)), abs=1e-3)
    assert sum(axis_pairs(64)) == 32 and axis_pairs(64) == (12, 10, 10)
    # tables for a grid are rows of the tables of any larger grid with the same positions
    small, _ = rope_tables((1, 2, 3), head_dim)
    torch.testing.assert_close(small[:3], cos[:3])


def test_presets_build():
    assert set(PRESETS) >= {"tiny", "s"}
    assert DiT(dit_config("s")).config.hidden_size == PRESETS["s"].hidden_size


@pytest.mark.parametrize("keys", [12, 300])  # text-length keys (plain path when training) and long keys
def test_attention_training_and_inference_paths_agree(keys):
    # Training on the CPU with short keys takes the plain matmul-softmax path, the rest SDPA: same result.
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 40, 16), torch.randn(2, 3, keys, 16), torch.randn(2, 3, keys, 16)
    mask = torch.ones(2, 1, 1, keys, dtype=torch.bool)
    mask[1, ..., keys // 2 :] = False
    with torch.no_grad():
        inference = attention(q, k, v, mask)
    training = attention(q.requires_grad_(), k, v, mask)
    torch.testing.assert_close(training.detach(), inference, atol=1e-5, rtol=1e-4)
    weights = torch.softmax((q @ k.transpose(-1, -2)).masked_fill(~mask, float("-inf")), dim=-1)
    torch.testing.assert_close(inference, (weights @ v).detach(), atol=1e-5, rtol=1e-4)
    # the masked keys are ignored: changing them changes nothing in row 1
    v2 = v.clone()
    v2[1, :, keys // 2 :] += 5.0
    with torch.no_grad():
        torch.testing.assert_close(attention(q, k, v2, mask)[1], inference[1])
