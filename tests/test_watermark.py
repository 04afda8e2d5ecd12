"""The invisible watermark: payload round trip, the three attacks, no false alarms, PSNR, the code."""

import cv2
import numpy as np
import pytest

from haneul.safety import watermark
from haneul.video_io import read_video, write_video

GID = "3f9a6c01d2e84b7f9a0c5e6d7b8a9c0d"


def scene(width: int, height: int, frames: int, seed: int) -> np.ndarray:
    """A world-like clip: a vertical gradient sky, a ground band, a textured wall patch and moving shapes."""
    rng = np.random.default_rng(seed)
    top, bottom = rng.integers(40, 230, 3), rng.integers(40, 230, 3)
    t = np.linspace(0, 1, height)[:, None, None]
    base = np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).copy()
    base[int(height * 0.6) :] = rng.integers(30, 200, 3)
    x0, y0 = rng.integers(0, width // 2), rng.integers(0, height // 2)
    bricks = (np.indices((height // 3, width // 3)).sum(0) // 6 % 2)[..., None] * 40
    base[y0 : y0 + height // 3, x0 : x0 + width // 3] = (110 + bricks)[: height - y0, : width - x0]
    out = []
    centre, velocity = rng.uniform(20, [width - 20, height - 20]), rng.uniform(-3, 3, 2)
    colour = rng.integers(0, 256, 3).tolist()
    for k in range(frames):
        frame = np.ascontiguousarray(base.astype(np.uint8))
        cx, cy = (centre + velocity * k).astype(int)
        cv2.circle(frame, (int(cx), int(cy)), 12, colour, -1, cv2.LINE_AA)
        out.append(frame)
    return np.stack(out)


def encode(tmp_path, frames: np.ndarray, crf: int, name: str = "v.mp4") -> np.ndarray:
    write_video(tmp_path / name, frames, fps=8, crf=crf)
    return read_video(tmp_path / name)[0]


SIZES = [(128, 128, 17), (160, 96, 9), (96, 160, 33)]


@pytest.mark.parametrize("width,height,frames", SIZES)
def test_round_trip_reads_the_generation_id(tmp_path, width, height, frames):
    clip = scene(width, height, frames, seed=width)
    stored = encode(tmp_path, watermark.embed(clip, GID), crf=18)
    result = watermark.detect(stored)
    assert result.detected and result.payload_valid
    assert result.generation_id_prefix == GID[:8]
    assert result.scale == 1.0 and result.shift == (0, 0)


def reencode_crf28(tmp_path, v):
    return encode(tmp_path, v, crf=28, name="attack.mp4")


def resize_half(tmp_path, v):
    h, w = v.shape[1:3]
    return encode(
        tmp_path,
        np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in v]),
        23,
        "a.mp4",
    )


def crop_10(tmp_path, v):
    h, w = v.shape[1:3]
    ch, cw = int(h * 0.9) // 2 * 2, int(w * 0.9) // 2 * 2
    return encode(tmp_path, v[:, 7 : 7 + ch, 3 : 3 + cw], 23, "a.mp4")


@pytest.mark.parametrize("attack", [reencode_crf28, resize_half, crop_10])
@pytest.mark.parametrize("width,height,frames", SIZES)
def test_survives_attacks(tmp_path, attack, width, height, frames):
    clip = scene(width, height, frames, seed=width + 1)
    stored = encode(tmp_path, watermark.embed(clip, GID), crf=18)
    result = watermark.detect(attack(tmp_path, stored))
    assert result.detected, result
    assert result.generation_id_prefix == GID[:8], result
    if attack is resize_half:
        assert abs(result.scale - 0.5) < 0.02
    if attack is crop_10:  # the crop offset shows up as the tile shift
        assert result.shift == (-7 % watermark.TILE, -3 % watermark.TILE)


def test_unmarked_videos_are_not_detected(tmp_path):
    scores = []
    for seed in range(8):
        width, height, frames = SIZES[seed % 3]
        result = watermark.detect(encode(tmp_path, scene(width, height, frames, seed=100 + seed), crf=18))
        assert not result.detected and result.generation_id_prefix is None
        scores.append(result.score)
    assert max(scores) < watermark.Z_SYNC


def test_a_different_key_does_not_see_the_mark(tmp_path):
    stored = encode(tmp_path, watermark.embed(scene(128, 128, 17, 5), GID), crf=18)
    assert not watermark.detect(stored, key="someone-else").detected


def test_psnr_is_at_least_38_db():
    for seed, (width, height, frames) in enumerate(SIZES):
        clip = scene(width, height, frames, seed)
        assert watermark.psnr(watermark.embed(clip, GID), clip) >= 38.0


def test_single_frame_image():
    image = scene(128, 128, 1, seed=9)[0]
    marked = watermark.embed(image, GID)
    assert marked.shape == image.shape
    assert watermark.detect(marked).generation_id_prefix == GID[:8]


def test_convolutional_code_corrects_errors():
    rng = np.random.default_rng(0)
    bits = watermark.payload_bits(GID)
    coded = watermark.conv_encode(bits)
    assert len(coded) == watermark.num_coded_bits()
    soft = 2.0 * coded - 1 + rng.normal(0, 0.6, len(coded))
    soft[rng.choice(len(coded), 12, replace=False)] *= -1  # 12 hard errors on top of noise
    assert (watermark.viterbi(soft) == bits).all()


def test_crc_rejects_random_payloads():
    rng = np.random.default_rng(1)
    assert watermark.read_payload(watermark.payload_bits(GID)) == GID[:8]
    hits = sum(watermark.read_payload(rng.integers(0, 2, 48)) is not None for _ in range(2000))
    assert hits <= 2  # expected 2000 / 65536


def test_generation_id_must_be_hex():
    with pytest.raises(ValueError, match="hex"):
        watermark.payload_bits("not-hex-at-all")


def test_visible_mark_touches_only_the_corner():
    clip = np.full((3, 128, 128, 3), 128, np.uint8)
    marked = watermark.add_visible_mark(clip)
    changed = np.argwhere((marked != clip).any(-1))
    assert len(changed) > 20
    assert changed[:, 1].min() > 100 and changed[:, 2].min() > 64


def test_survives_upscaling(tmp_path):
    stored = encode(tmp_path, watermark.embed(scene(128, 128, 17, seed=11), GID), crf=18)
    big = np.stack([cv2.resize(f, (256, 256), interpolation=cv2.INTER_CUBIC) for f in stored])
    result = watermark.detect(encode(tmp_path, big, 23, "big.mp4"))
    assert result.generation_id_prefix == GID[:8] and abs(result.scale - 2.0) < 0.05


def test_a_halved_clip_scores_like_the_original():
    """The detector measures texture over the same share of the tile at every scale it tries, so halving
    a clip (no re-encode) leaves its sync score where it was; with a fixed high-pass width the small
    non-square clips lost 0.1-0.8 of it (and halved, re-encoded generated clips 1 detection in 17)."""
    gaps = []
    for seed in range(6):
        width, height, frames = [(160, 96, 9), (96, 160, 17)][seed % 2]
        marked = watermark.embed(scene(width, height, frames, seed), GID)
        half = np.stack(
            [cv2.resize(f, (width // 2, height // 2), interpolation=cv2.INTER_AREA) for f in marked]
        )
        full_result, half_result = watermark.detect(marked), watermark.detect(half)
        assert half_result.generation_id_prefix == GID[:8] and half_result.scale == 0.5
        gaps.append(abs(half_result.score - full_result.score))
    assert np.mean(gaps) < 0.25, gaps


def test_decoder_weights_the_bands_where_the_mark_survived():
    """Band reliability is estimated from the known sync pattern: a band replaced by noise gets ~no weight."""
    layout = watermark._layout(watermark.DEFAULT_KEY)
    spectrum = np.fft.rfft2(watermark.tile_pattern(GID))
    spectrum = np.where(layout.ring, spectrum / (np.abs(spectrum) + 1e-9), 0)  # what detection sees
    rng = np.random.default_rng(0)
    outer = np.zeros(spectrum.shape, bool)
    outer[layout.iy, layout.ix] = layout.band >= watermark.BANDS - 2  # the two outer bands: noise only
    noise = np.exp(2j * np.pi * rng.random(spectrum.shape))
    spectrum = np.where(outer, noise, spectrum)
    weights = watermark._band_weights(spectrum, layout)
    assert weights[: watermark.BANDS - 2].min() > 10 * max(weights[watermark.BANDS - 2 :].max(), 1e-3)
    assert watermark._decode(spectrum, layout, 0, 0) == GID[:8]


def hard_clips() -> dict[str, np.ndarray]:
    """Noise-like and extreme hosts: where a fixed-shape mark was lost (1 id in 6) with no attack at all.

    Static white noise of std 15 in luma is about the limit at 38 dB: the fixed-shape mark read 1 id in 4
    there; at std 20 the informed one reads about half (docs/safety.md).
    """
    rng = np.random.default_rng(7)
    static = rng.normal(140, 14, (64, 64, 1))
    return {
        # what a tiny random model draws: static texture plus independent noise in every frame
        "noise 64x64x17": np.clip(static + rng.normal(0, 20, (17, 64, 64, 1)), 0, 255).repeat(3, -1),
        "noise 96x64x9": np.clip(rng.normal(140, 30, (9, 64, 96, 3)), 0, 255),
        # one still of white noise, no frames to average it away: std 15 read 30 ids in 30; std 20 missed
        # about 1 in 12, std 30 4 in 6, std 40 all (the 38 dB budget is fixed)
        "noise image": np.clip(rng.normal(128, 15, (64, 64, 3)), 0, 255),
        "flat": np.full((9, 64, 64, 3), 128.0),
        "dark": np.full((9, 64, 64, 3), 4.0),  # the mark is half clipped away at 0
        "checker": np.indices((9, 64, 64)).sum(0)[..., None].repeat(3, -1) % 2 * 255.0,
    }


@pytest.mark.parametrize("name", list(hard_clips()))
def test_hard_hosts_are_never_missed(tmp_path, name):
    clip = hard_clips()[name].astype(np.uint8)
    rng = np.random.default_rng(sum(map(ord, name)))  # str hash is salted per process
    misses = []
    for _ in range(6):
        gid = rng.bytes(16).hex()
        result = watermark.detect(encode(tmp_path, watermark.embed(clip, gid), crf=18))
        if result.generation_id_prefix != gid[:8]:
            misses.append((gid[:8], result.score))
    assert misses == [], misses


def test_tiny_model_clip_is_never_missed(tmp_path, tiny_pipe):
    """The clip test_generate_cli's signed-output test makes (seed 0, 17 frames, visible label), many ids."""
    from haneul.safety.watermark import add_visible_mark

    clip = add_visible_mark(tiny_pipe.generate("a red ball", num_frames=17, num_steps=1, seed=0).frames)
    misses = []
    for k in range(12):
        gid = f"{k:08x}" + "5ca1ab1e" * 3
        result = watermark.detect(encode(tmp_path, watermark.embed(clip, gid), crf=18))
        if result.generation_id_prefix != gid[:8]:
            misses.append((gid[:8], result.score))
    assert misses == [], misses


def test_informed_pattern_keeps_the_budget():
    clip = hard_clips()["noise 64x64x17"].astype(np.uint8)
    pattern = watermark.informed_pattern(clip, GID, rms=2.5)
    assert pattern.shape == (watermark.TILE, watermark.TILE)
    assert np.sqrt((pattern**2).mean()) == pytest.approx(2.5)
    assert watermark.psnr(watermark.embed(clip, GID), clip) >= 38.0
