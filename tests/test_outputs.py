"""save_output: frame check, watermark, atomic write, C2PA signature last; an honest report; no partial files."""

import sys
import types

import numpy as np
import pytest

from haneul.errors import ModerationBlocked
from haneul.outputs import save_output
from haneul.pipeline import GeneratedVideo
from haneul.safety import provenance, watermark
from haneul.video_io import read_image, read_video


@pytest.fixture(autouse=True)
def keys_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HANEUL_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("HANEUL_FRAME_CHECKER", "none")
    for name in ("HANEUL_SIGN_CERT", "HANEUL_SIGN_KEY", "HANEUL_TRUST_ANCHORS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def video(frames: int = 9) -> GeneratedVideo:
    y, x = np.mgrid[0:96, 0:128]
    frame = np.stack([x * 2, y * 2, np.full_like(x, 120)], -1).astype(np.uint8)
    clip = np.repeat(frame[None], frames, 0)
    for k in range(frames):
        clip[k, 30:50, 10 + 4 * k : 30 + 4 * k] = (250, 40, 40)
    return GeneratedVideo(
        clip,
        8.0,
        "a red square slides right",
        "a red square slides right",
        7,
        "haneul-world-s",
        {"mode": "text"},
    )


def test_mp4_is_checked_watermarked_and_signed(out):
    report = save_output(video(), out / "clip.mp4", generation_id="a1b2c3d4" + "e" * 24)
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4"]  # no temporary files left
    assert report["frame_check"]["ran"] is False  # HANEUL_FRAME_CHECKER=none: says so, claims nothing
    assert report["watermark"]["payload"] == "a1b2c3d4" and report["watermark"]["psnr_db"] >= 38
    assert report["c2pa"]["signed"]
    frames, fps = read_video(out / "clip.mp4")
    assert frames.shape == (9, 96, 128, 3) and fps == 8
    assert watermark.detect(frames).generation_id_prefix == "a1b2c3d4"
    manifest = provenance.read_manifest(out / "clip.mp4")
    assert manifest["validation_state"] == "Trusted"
    generation = provenance.summarize(manifest["manifest"])["generation"]
    assert generation["generation_id"] == report["generation_id"]
    assert generation["frame_check_ran"] is False
    assert set(report["timings"]) == {"frame_check_s", "watermark_s", "sign_s"}


def test_png_is_the_first_frame_signed(out):
    report = save_output(video(), out / "still.png")
    assert read_image(out / "still.png").shape == (96, 128, 3)
    assert len(report["generation_id"]) == 32
    assert provenance.read_manifest(out / "still.png")["validation_state"] == "Trusted"


def test_switches_are_reported_honestly(out):
    report = save_output(video(), out / "plain.mp4", watermark=False, sign=False)
    assert report["watermark"] is None and report["c2pa"] is None
    assert provenance.read_manifest(out / "plain.mp4")["present"] is False
    assert not watermark.detect(read_video(out / "plain.mp4")[0]).detected


def test_visible_watermark(out):
    save_output(video(), out / "a.mp4", visible_watermark=False, sign=False, watermark=False)
    save_output(video(), out / "b.mp4", visible_watermark=True, sign=False, watermark=False)
    a, b = read_video(out / "a.mp4")[0], read_video(out / "b.mp4")[0]
    diff = np.abs(a.astype(int) - b.astype(int)).max(-1)
    assert diff[:, 80:, 90:].max() > 60 and diff[:, :60, :].max() < 8


def test_a_failed_signature_writes_nothing_and_keeps_the_old_file(out, monkeypatch):
    (out / "clip.mp4").write_bytes(b"previous output")

    def broken(*args, **kwargs):
        raise RuntimeError("signer exploded")

    monkeypatch.setattr(provenance, "sign_file", broken)
    with pytest.raises(RuntimeError, match="exploded"):
        save_output(video(), out / "clip.mp4")
    assert (out / "clip.mp4").read_bytes() == b"previous output"
    assert [p.name for p in out.iterdir()] == ["clip.mp4"]
    with pytest.raises(RuntimeError):
        save_output(video(), out / "new.mp4")
    assert not (out / "new.mp4").exists()


def fake_frames_module(result):
    module = types.ModuleType("haneul.safety.frames")
    module.check_frames = lambda frames: result
    return module


def test_a_flagged_frame_check_blocks_the_output(out, monkeypatch):
    flagged = {"ran": True, "checker": "fake", "flagged": True, "category": "sexual", "details": {}}
    monkeypatch.setitem(sys.modules, "haneul.safety.frames", fake_frames_module(flagged))
    with pytest.raises(ModerationBlocked) as info:
        save_output(video(), out / "clip.mp4")
    assert info.value.category == "sexual"
    assert list(out.iterdir()) == []


def test_a_passed_frame_check_is_recorded(out, monkeypatch):
    passed = {"ran": True, "checker": "fake", "flagged": False, "category": None, "details": {}}
    monkeypatch.setitem(sys.modules, "haneul.safety.frames", fake_frames_module(passed))
    report = save_output(video(), out / "clip.mp4")
    assert report["frame_check"]["ran"] is True and report["frame_check"]["checker"] == "fake"
    generation = provenance.summarize(provenance.read_manifest(out / "clip.mp4")["manifest"])["generation"]
    assert generation["frame_check_ran"] is True


def test_no_frame_checker_module_is_said(out, monkeypatch):
    monkeypatch.setitem(sys.modules, "haneul.safety.frames", None)  # import fails
    report = save_output(video(), out / "clip.mp4", sign=False)
    assert report["frame_check"]["ran"] is False and "missing" in report["frame_check"]["reason"]


def test_edit_ingredients_go_into_the_manifest(out):
    save_output(video(), out / "source.mp4")
    save_output(video(), out / "edit.mp4", ingredients=[out / "source.mp4"])
    summary = provenance.summarize(provenance.read_manifest(out / "edit.mp4")["manifest"])
    assert summary["ingredients"] == [{"title": "source.mp4", "relationship": "inputTo"}]


def test_bad_generation_id_or_missing_ingredient_is_an_input_error(out):
    from haneul.errors import InputError

    with pytest.raises(InputError, match="hex"):
        save_output(video(), out / "clip.mp4", generation_id="not hex")
    with pytest.raises(InputError, match="does not exist"):
        save_output(video(), out / "clip.mp4", ingredients=[out / "missing.mp4"])
    assert list(out.iterdir()) == []
