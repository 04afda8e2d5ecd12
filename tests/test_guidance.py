"""Guidance: at CFG scale 1 the conditional output, batched equal to two separate forwards; autoguidance
adds the guide's difference for one guide forward; contrast guidance the swapped caption's difference, in
the same batched forward."""

import torch

from haneul.guidance import guided_velocity
from haneul.models.dit import DiT, dit_config


class Counting(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model, self.calls = model, 0

    def forward(self, *args):
        self.calls += 1
        return self.model(*args)


def random_dit(seed: int) -> Counting:
    """A tiny DiT with its weights moved off their initial values (zero-initialised outputs say nothing)."""
    torch.manual_seed(seed)
    model = DiT(dit_config("tiny"))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return Counting(model.eval())


def setup(seed: int = 0):
    model = random_dit(seed)
    d = model.model.config.text_dim
    x = torch.randn(2, 4, 3, 4, 4)
    t = torch.rand(2, 3)
    given = torch.tensor([[True, False, False], [False, False, False]])
    t[given] = 0
    context = torch.randn(2, 6, d)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    neg = torch.randn(1, 3, d)  # shorter negative prompt, one row for the batch
    neg_mask = torch.ones(1, 3, dtype=torch.bool)
    return model, x, t, context, mask, neg, neg_mask, given


def test_scale_one_is_the_conditional_output_in_one_pass():
    model, x, t, context, mask, neg, neg_mask, given = setup()
    out = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 1.0)
    assert model.calls == 1
    assert torch.equal(out, model.model(x, t, context, mask, given))


def test_batched_equals_two_separate_forwards():
    model, x, t, context, mask, neg, neg_mask, given = setup()
    scale = 4.5
    out = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, scale)
    assert model.calls == 1  # cond and uncond in one batched forward
    v_cond = model.model(x, t, context, mask, given)
    v_neg = model.model(x, t, neg.expand(2, -1, -1), neg_mask.expand(2, -1), given)
    torch.testing.assert_close(out, v_neg + scale * (v_cond - v_neg), atol=1e-4, rtol=1e-5)
    zero = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 0.0)
    torch.testing.assert_close(zero, v_neg, atol=1e-5, rtol=1e-5)


def test_guide_scale_one_or_no_guide_is_plain_cfg():
    model, x, t, context, mask, neg, neg_mask, given = setup()
    guide = random_dit(1)
    plain = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 3.0)
    same = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 3.0, guide, 1.0)
    assert guide.calls == 0
    assert torch.equal(plain, same)


def test_autoguidance_steers_away_from_the_guide():
    model, x, t, context, mask, neg, neg_mask, given = setup()
    guide = random_dit(1)
    out = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 1.0, guide, 2.5)
    assert (model.calls, guide.calls) == (1, 1)
    v_cond = model.model(x, t, context, mask, given)
    v_guide = guide.model(x, t, context, mask, given)
    assert not torch.allclose(v_cond, v_guide, atol=1e-3)  # else the check below could not fail
    torch.testing.assert_close(out, v_guide + 2.5 * (v_cond - v_guide), atol=1e-4, rtol=1e-5)


def test_cfg_and_autoguidance_add_up():
    model, x, t, context, mask, neg, neg_mask, given = setup()
    guide = random_dit(1)
    out = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 3.0, guide, 2.0)
    assert (model.calls, guide.calls) == (1, 1)  # v_cond comes from the batched CFG forward
    v_cond = model.model(x, t, context, mask, given)
    v_neg = model.model(x, t, neg.expand(2, -1, -1), neg_mask.expand(2, -1), given)
    v_guide = guide.model(x, t, context, mask, given)
    want = v_cond + 2.0 * (v_cond - v_neg) + 1.0 * (v_cond - v_guide)
    torch.testing.assert_close(out, want, atol=1e-4, rtol=1e-5)


def test_contrast_guidance_steers_away_from_the_swapped_caption_in_the_same_forward():
    model, x, t, context, mask, neg, neg_mask, given = setup()
    guide = random_dit(1)
    d = model.model.config.text_dim
    swapped = (torch.randn(1, 5, d), torch.ones(1, 5, dtype=torch.bool))
    out = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 3.0, guide, 2.0, swapped, 2.5)
    assert (model.calls, guide.calls) == (1, 1)  # cond, negative and swapped caption in one forward
    v_cond = model.model(x, t, context, mask, given)
    v_neg = model.model(x, t, neg.expand(2, -1, -1), neg_mask.expand(2, -1), given)
    v_swap = model.model(x, t, swapped[0].expand(2, -1, -1), swapped[1].expand(2, -1), given)
    v_guide = guide.model(x, t, context, mask, given)
    assert not torch.allclose(v_cond, v_swap, atol=1e-3)  # else the check below could not fail
    want = v_neg + 3.0 * (v_cond - v_neg) + 1.5 * (v_cond - v_swap) + 1.0 * (v_cond - v_guide)
    torch.testing.assert_close(out, want, atol=1e-4, rtol=1e-5)


def test_contrast_scale_one_skips_the_swapped_caption():
    model, x, t, context, mask, neg, neg_mask, given = setup()
    d = model.model.config.text_dim
    swapped = (torch.randn(1, 5, d), torch.ones(1, 5, dtype=torch.bool))
    plain = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 1.0)
    same = guided_velocity(model, x, t, context, mask, neg, neg_mask, given, 1.0, None, 1.0, swapped, 1.0)
    assert torch.equal(plain, same)
