"""The transformer trainer: conditioning masks, caption dropout, the loss, and a run whose output loads."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_train_data import make_folder

from haneul.errors import InputError
from haneul.flow import flow_matching_loss
from haneul.models.vae import VAEConfig, VideoVAE
from haneul.train.config import DiTTrainConfig, load_config
from haneul.train.data import make_data
from haneul.train.dit_task import MASK_MODES, DiTTask, flow_loss, given_mask, latent_grid, temporal_loss
from haneul.train.loop import Dist
from haneul.train.runs import train_dit
from haneul.weights import save_module

TINY = """
data: {data}
vae: {vae}
out: {out}
preset: tiny
sizes: [[32, 32], [48, 32], [32, 48]]
frame_counts: [1, 9]
frame_weights: [0.3, 0.7]
batch_size: 2
steps: 3
warmup_steps: 1
num_threads: 1
sample_every: 3
sample_prompts: ["a red box moves right"]
num_steps: 2
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("dit")
    torch.manual_seed(0)
    vae_config = VAEConfig(latent_channels=4, channels=(8, 8, 16))
    save_module(VideoVAE(vae_config), vae_config, root / "vae", dtype="fp32")
    path = root / "dit.yaml"
    path.write_text(
        TINY.format(data=make_folder(root / "data", corrupt=False), vae=root / "vae", out=root / "out")
    )
    return path


@pytest.mark.parametrize("frames", [1, 2, 3, 5, 9])
def test_masks_always_leave_frames_to_generate(frames):
    rng = np.random.default_rng(0)
    for mode in MASK_MODES:
        for _ in range(50):
            given = given_mask(mode, frames, rng)
            assert given.shape == (frames,) and not given.all()
            if mode == "none" or frames == 1:
                assert not given.any()
                continue
            if mode == "first":
                assert given.tolist() == [True] + [False] * (frames - 1)
            if mode == "last":
                assert given.tolist() == [False] * (frames - 1) + [True]
            if mode == "prefix":  # a contiguous run from the start
                k = int(given.sum())
                assert k >= 1 and given[:k].all() and not given[k:].any()
            if mode == "suffix":
                k = int(given.sum())
                assert k >= 1 and given[frames - k :].all() and not given[: frames - k].any()


def test_loss_is_the_flow_matching_loss_per_clip():
    torch.manual_seed(0)
    pred, x0, noise = torch.randn(3, 2, 2, 4, 3, 3).unbind(0)  # (B, C, F, H, W) each
    given = torch.tensor([[True, False, False, False]])
    one = flow_loss(pred[None, 0], x0[None, 0], noise[None, 0], given)
    assert torch.allclose(one, flow_matching_loss(pred[None, 0], x0[None, 0], noise[None, 0], given))
    # A batch: the mean of per-clip losses, whatever each clip's number of given frames.
    given2 = torch.tensor([[True, False, False, False], [False, False, False, False]])
    both = flow_loss(pred[:2], x0[:2], noise[:2], given2)
    two = flow_loss(pred[None, 1], x0[None, 1], noise[None, 1], given2[1:])
    assert torch.allclose(both, (one + two) / 2)
    assert float(flow_loss(noise - x0, x0, noise, given2)) == 0.0  # the exact velocity has zero loss


def test_object_weight_makes_each_frame_a_weighted_mean():
    torch.manual_seed(0)
    pred, x0, noise = torch.randn(3, 1, 2, 3, 4, 4).unbind(0)
    given = torch.tensor([[True, False, False]])
    ones = torch.ones(1, 3, 4, 4)
    assert torch.allclose(flow_loss(pred, x0, noise, given, ones), flow_loss(pred, x0, noise, given))
    # Only the marked position counts when the rest weighs (almost) nothing: its own error.
    weight = torch.full((1, 3, 4, 4), 1e-9)
    weight[:, :, 1, 2] = 1.0
    err = (pred - (noise - x0)).pow(2).mean(dim=1)[0, 1:, 1, 2].mean()
    assert torch.allclose(flow_loss(pred, x0, noise, given, weight), err, rtol=1e-4)


def test_object_boxes_go_to_the_latent_grid_of_a_causal_vae(setup):
    pixels = torch.zeros(1, 9, 16, 16)
    pixels[0, 2, 5, 9] = 1.0  # frame 2 is in latent frame 1 (frames 1-4); pixel (5, 9) in latent cell (1, 2)
    grid = latent_grid(pixels, (3, 4, 4))
    assert grid.shape == (1, 3, 4, 4) and grid.sum() == 1 and grid[0, 1, 1, 2] == 1
    assert latent_grid(torch.ones(2, 1, 16, 16), (1, 4, 4)).shape == (2, 1, 4, 4)  # an image
    with pytest.raises(InputError, match="object_loss_weight"):
        DiTTask(load_config(DiTTrainConfig, setup, ["object_loss_weight=-1"]), Dist())


def test_the_object_weight_on_folder_data_says_it_does_nothing(setup, capsys):
    DiTTask(load_config(DiTTrainConfig, setup, ["object_loss_weight=2"]), Dist())
    assert "no effect on folder data" in capsys.readouterr().out
    DiTTask(load_config(DiTTrainConfig, setup, []), Dist())
    assert "no effect" not in capsys.readouterr().out


def test_a_world_training_step_weighs_the_objects(setup):
    """World batches carry their objects' boxes; with a weight the step's loss changes, without it not."""
    world = ["data=world", "sizes=[[32, 32]]", "frame_counts=[9]", "frame_weights=[1]", "batch_size=2"]
    plain = DiTTask(load_config(DiTTrainConfig, setup, world), Dist())
    weighted = DiTTask(load_config(DiTTrainConfig, setup, [*world, "object_loss_weight=4"]), Dist())
    batch = make_data(plain.config, plain.temporal_factor).batch(0)
    assert batch.foreground is not None and batch.foreground.shape == (2, 9, 32, 32)
    assert 0 < float(batch.foreground.mean()) < 0.8  # objects' boxes, not the whole frame
    a = plain.loss(plain.model, batch, 0)[0]
    b = plain.loss(plain.model, batch, 0)[0]
    c = weighted.loss(plain.model, batch, 0)[0]
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_temporal_loss_scores_steps_between_latent_frames():
    """Zero for an exact prediction and for an error that is the same in every frame; positive for one
    that changes from frame to frame; given frames (t = 0) add nothing."""
    x0, noise = torch.randn(2, 4, 5, 3, 3), torch.randn(2, 4, 5, 3, 3)
    t = torch.full((2, 5), 0.7)
    v = noise - x0
    assert float(temporal_loss(v, x0, noise, t)) == 0.0
    steady = torch.randn(2, 4, 1, 3, 3).expand(-1, -1, 5, -1, -1)
    assert float(temporal_loss(v + steady, x0, noise, t)) == pytest.approx(0.0, abs=1e-10)
    flicker = torch.randn(2, 4, 5, 3, 3)
    assert float(temporal_loss(v + flicker, x0, noise, t)) > 0.1
    t[:, 0] = 0.0  # a given first frame: its prediction does not count
    only_given = torch.zeros_like(v)
    only_given[:, :, 0] = 5.0
    assert float(temporal_loss(v + only_given, x0, noise, t)) == 0.0


def test_a_world_step_with_the_temporal_loss_logs_and_adds_it(setup):
    world = ["data=world", "sizes=[[32, 32]]", "frame_counts=[9]", "frame_weights=[1]", "batch_size=2"]
    plain = DiTTask(load_config(DiTTrainConfig, setup, world), Dist())
    steps = DiTTask(load_config(DiTTrainConfig, setup, [*world, "temporal_loss_weight=2"]), Dist())
    batch = make_data(plain.config, plain.temporal_factor).batch(0)
    a, parts_a, _ = plain.loss(plain.model, batch, 0)
    b, parts_b, _ = steps.loss(plain.model, batch, 0)
    assert "temporal" not in parts_a and parts_b["temporal"] > 0
    assert float(b) == pytest.approx(float(a) + 2 * parts_b["temporal"], rel=1e-5)


def test_kind_contrast_adds_a_hinge_on_swapped_kind_words(setup):
    """With a kind contrast weight the step also runs the clips with their kind words swapped (in the same
    forward pass) and adds the hinge: a fresh model barely tells kinds apart, so each swapped clip adds about
    weight x margin / batch; the log gets the gap, and the count of tokens includes the swapped clips."""
    world = ["data=world", "sizes=[[32, 32]]", "frame_counts=[9]", "frame_weights=[1]", "batch_size=2"]
    world += ["caption_dropout=0"]
    plain = DiTTask(load_config(DiTTrainConfig, setup, world), Dist())
    contrast = DiTTask(
        load_config(DiTTrainConfig, setup, [*world, "kind_contrast_weight=2", "kind_contrast_margin=0.5"]),
        Dist(),
    )
    batch = make_data(plain.config, plain.temporal_factor).batch(0)
    a, parts_a, tokens_a = plain.loss(plain.model, batch, 0)
    b, parts_b, tokens_b = contrast.loss(plain.model, batch, 0)
    swapped = tokens_b // (tokens_a // 2) - 2
    assert "kind_gap" not in parts_a and abs(parts_b["kind_gap"]) < 0.1 and swapped >= 1
    expected = 2 * swapped * (0.5 - parts_b["kind_gap"]) / 2
    assert abs(float((b - a).detach()) - expected) < 0.05  # every swapped clip is inside its hinge
    b.backward()  # the hinge reaches the weights
    assert all(p.grad is not None for p in plain.model.parameters() if p.requires_grad)
    with pytest.raises(InputError, match="kind_contrast"):
        DiTTask(load_config(DiTTrainConfig, setup, ["kind_contrast_weight=-1"]), Dist())


def test_contrast_words_swap_one_vocabulary_the_caption_uses(setup):
    """Each clip's contrast swaps one of the named vocabularies, drawn among those its caption uses: where an
    object starts ("at the top left") and which way it moves ("to the left") change apart."""
    from haneul.world.captions import swap_one

    caption = "A medium yellow box at the top left moves to the left slowly."
    rng = np.random.default_rng(0)
    moved = swap_one(caption, ["position"], rng)
    assert "box" in moved and "moves to the left" in moved and "at the top left" not in moved
    turned = swap_one(caption, ["direction"], rng)
    assert "at the top left" in turned and "moves to the left slowly" not in turned
    seen = {swap_one(caption, ["kind", "position", "direction"], rng) for _ in range(30)}
    assert any("box" not in s for s in seen) and any("at the top left" not in s for s in seen)
    parts = ("box", "at the top left", "moves to the left slowly")
    assert all(sum(part not in s for part in parts) == 1 for s in seen)
    assert swap_one("a red ball rolls", ["position"], rng) == "a red ball rolls"  # nothing to swap
    counted = swap_one("One object on the sea. " + caption, ["count"], rng)
    assert counted.endswith(caption) and counted.split(" on the sea")[0] in (
        "two objects",
        "three objects",
        "four objects",
    )
    for bad in ("contrast_words=[shape]", "contrast_words=[]"):
        with pytest.raises(InputError, match="contrast_words"):
            DiTTask(load_config(DiTTrainConfig, setup, [bad]), Dist())


def test_swapping_kind_words_changes_every_mention_alike():
    from haneul.world.captions import swap_words
    from haneul.world.vocab import KINDS

    text = "A large blue triangle moves up. A black heart spins. From left to right: the black heart, the blue triangle."
    assert swap_words(text, KINDS) == text.replace("triangle", "star").replace("heart", "ring")
    rng = np.random.default_rng(0)
    for _ in range(20):
        other = swap_words(text, KINDS, rng)
        words = other.split()
        tri, heart = words[3], words[8]
        assert tri != "triangle" and heart != "heart" and tri in {w.en[0] for w in KINDS.values()}
        assert other.count(tri) >= 2 and other.count(heart + ",") == 1
    assert swap_words("빨간 공이 움직인다", KINDS, rng) == "빨간 공이 움직인다"  # Korean is left as it is


def test_caption_dropout_short_captions_and_mask_mix(setup):
    config = load_config(
        DiTTrainConfig, setup, ["caption_dropout=0.2", "short_caption_prob=0.5", "batch_size=8"]
    )
    task = DiTTask(config, Dist())
    batch = make_data(config, task.temporal_factor).batch(0)
    prompts, givens, times = [], [], []
    for step in range(150):
        p, g, t = task.draw(batch, step, frames=5, tokens=64)
        prompts += p
        givens += list(g)
        times += list(t)
    kinds = Counter("empty" if p == "" else "short" if p == "a red box" else "detailed" for p in prompts)
    n = len(prompts)
    assert abs(kinds["empty"] / n - 0.2) < 0.04
    assert abs(kinds["short"] / (n - kinds["empty"]) - 0.5) < 0.05
    unconditioned = sum(not g.any() for g in givens) / n
    assert abs(unconditioned - config.masks["none"] / sum(config.masks.values())) < 0.05
    assert 0.0 < min(times) and max(times) < 1.0


def test_low_noise_share_draws_small_times(setup):
    """`low_noise_prob` of the clips get t uniform in [0, low_noise_max]; the rest keep the logit-normal,
    which almost never goes that low."""

    def small_share(overrides: list[str]) -> float:
        task = DiTTask(load_config(DiTTrainConfig, setup, ["batch_size=8", *overrides]), Dist())
        batch = make_data(task.config, task.temporal_factor).batch(0)
        times = np.concatenate([task.draw(batch, step, frames=5, tokens=64)[2] for step in range(100)])
        return float((times < 0.05).mean())

    base = small_share([])
    assert base < 0.05
    more = small_share(["low_noise_prob=0.5", "low_noise_max=0.1"])
    assert abs(more - (base * 0.5 + 0.5 * 0.5)) < 0.06  # half the clips, half of whose t is below 0.05


def test_high_noise_share_draws_times_near_one(setup):
    """`high_noise_prob` of the clips get t uniform in [high_noise_min, 1]; the logit-normal alone almost
    never draws t > 0.97, where the sampler starts."""

    def large_share(overrides: list[str]) -> float:
        task = DiTTask(load_config(DiTTrainConfig, setup, ["batch_size=8", *overrides]), Dist())
        batch = make_data(task.config, task.temporal_factor).batch(0)
        times = np.concatenate([task.draw(batch, step, frames=5, tokens=64)[2] for step in range(100)])
        return float((times > 0.97).mean())

    base = large_share([])
    assert base < 0.03
    more = large_share(["high_noise_prob=0.4", "high_noise_min=0.94"])
    assert abs(more - (base * 0.6 + 0.4 * 0.5)) < 0.06  # 40% of the clips, half of whose t is above 0.97


@pytest.mark.parametrize(
    "overrides", [["high_noise_min=1.5"], ["high_noise_prob=0.7", "low_noise_prob=0.5"], ["low_noise_max=0"]]
)
def test_noise_shares_out_of_range_are_clear_errors(setup, overrides):
    with pytest.raises(InputError, match="noise"):
        DiTTask(load_config(DiTTrainConfig, setup, overrides), Dist())


def test_a_training_run_writes_a_model_the_pipeline_loads(setup, tmp_path):
    from haneul.pipeline import Pipeline

    summary = train_dit(setup, [])
    out = setup.parent / "out"
    assert summary["step"] == 3 and np.isfinite(summary["loss"])
    spec = json.loads((out / "haneul.json").read_text())
    assert spec["sizes"] == [[32, 32], [48, 32], [32, 48]] and spec["max_frames"] == 9
    assert "Transformer training" in (out / "README.md").read_text()
    assert list((out / "samples").glob("step_0000003_0.mp4"))  # the periodic sample video
    pipe = Pipeline.from_pretrained(out)
    video = pipe.generate("a red box moves right", width=48, height=32, num_frames=9, num_steps=2)
    assert video.frames.shape == (9, 32, 48, 3)
    # A later run can start from these weights (no checkpoint needed): `init`.
    again = DiTTask(load_config(DiTTrainConfig, setup, [f"init={out}"]), Dist())
    exported = load_file(out / "dit" / "model.safetensors")
    assert all(torch.equal(again.model.state_dict()[k], v) for k, v in exported.items())
    # ... or from a deeper copy of them (grow_depth), which the exported config then describes.
    grown = DiTTask(load_config(DiTTrainConfig, setup, [f"init={out}", "grow_depth=3"]), Dist())
    assert len(grown.model.blocks) == grown.dit_config.depth == 3
    with pytest.raises(
        InputError, match="grow_depth, add_refiner, add_positions and add_pooled_text need init"
    ):
        DiTTask(load_config(DiTTrainConfig, setup, ["grow_depth=3"]), Dist())
    # ... or with a refiner added (add_refiner): its config says so, the old weights are kept.
    refined = DiTTask(load_config(DiTTrainConfig, setup, [f"init={out}", "add_refiner=8"]), Dist())
    assert refined.dit_config.refiner_channels == 8 and refined.model.refiner is not None
    assert all(torch.equal(refined.model.state_dict()[k], v) for k, v in exported.items())
    with pytest.raises(InputError, match="needs a model with a refiner"):
        DiTTask(load_config(DiTTrainConfig, setup, [f"init={out}", "train_refiner_only=true"]), Dist())
    # ... or seeing where its tokens sit (add_positions), the old weights kept.
    placed = DiTTask(load_config(DiTTrainConfig, setup, [f"init={out}", "add_positions=4"]), Dist())
    assert placed.dit_config.position_bands == 4 and placed.model.place_embed is not None
    assert all(torch.equal(placed.model.state_dict()[k], v) for k, v in exported.items())
    # ... or reading the pooled caption in its adaLN (add_pooled_text), the old weights kept.
    read = DiTTask(load_config(DiTTrainConfig, setup, [f"init={out}", "add_pooled_text=true"]), Dist())
    assert read.dit_config.pooled_text and read.model.pooled_embed is not None
    assert all(torch.equal(read.model.state_dict()[k], v) for k, v in exported.items())


def test_training_the_refiner_alone_keeps_the_transformer(setup, tmp_path):
    first = tmp_path / "first"
    train_dit(setup, [f"out={first}", "sample_every=0"])
    second = tmp_path / "second"
    train_dit(
        setup,
        [f"out={second}", f"init={first}", "add_refiner=8", "train_refiner_only=true", "sample_every=0"],
    )
    before = load_file(first / "dit" / "model.safetensors")
    after = load_file(second / "dit" / "model.safetensors")
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert after["refiner.conv_out.weight"].abs().sum() > 0  # the refiner moved from its zero start
    assert json.loads((second / "dit" / "config.json").read_text())["refiner_channels"] == 8
