"""`haneul verify` and `haneul keys init` through the real CLI entry point."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from haneul.cli import app
from haneul.outputs import save_output
from haneul.pipeline import GeneratedVideo
from haneul.video_io import read_video, write_video

runner = CliRunner()


@pytest.fixture(autouse=True)
def keys_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HANEUL_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("HANEUL_FRAME_CHECKER", "none")
    for name in ("HANEUL_SIGN_CERT", "HANEUL_SIGN_KEY", "HANEUL_TRUST_ANCHORS"):
        monkeypatch.delenv(name, raising=False)


def video() -> GeneratedVideo:
    t = np.linspace(0, 255, 128, dtype=np.float32)
    frame = np.stack(
        [
            np.broadcast_to(t[:, None], (128, 128)),
            np.broadcast_to(t[None], (128, 128)),
            np.full((128, 128), 90.0),
        ],
        -1,
    )
    frames = np.repeat(frame.astype(np.uint8)[None], 9, 0)
    return GeneratedVideo(
        frames, 8.0, "a ball", "a red ball on grass", 3, "haneul-world-s", {"model_version": "0.1"}
    )


def test_verify_signed_output(tmp_path):
    report = save_output(video(), tmp_path / "out.mp4", generation_id="c0ffee00" + "1" * 24)
    result = runner.invoke(app, ["verify", str(tmp_path / "out.mp4")])
    assert result.exit_code == 0, result.output
    assert "C2PA: Trusted" in result.output
    assert "trainedAlgorithmicMedia" in result.output
    assert "watermark: detected (generation id c0ffee00" in result.output
    assert report["generation_id"] in result.output


def test_verify_json(tmp_path):
    save_output(video(), tmp_path / "out.png", generation_id="12345678" + "0" * 24)
    result = runner.invoke(app, ["verify", "--json", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verified"] and report["c2pa"]["validation_state"] == "Trusted"
    assert report["c2pa"]["manifest"]["claim_generator_info"][0]["name"] == "haneul"
    assert report["watermark"]["generation_id_prefix"] == "12345678"
    assert report["watermark"]["matches_manifest"] is True


def test_one_byte_tampered_is_not_verified(tmp_path):
    path = tmp_path / "out.mp4"
    save_output(video(), path)
    data = bytearray(path.read_bytes())
    data[data.find(b"mdat") + 64] ^= 0x10
    path.write_bytes(bytes(data))
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 1
    assert "C2PA: Invalid" in result.output and "mismatch" in result.output
    assert "NOT verified" in result.output


def test_manifest_stripped_by_reencoding_the_watermark_still_speaks(tmp_path):
    save_output(video(), tmp_path / "out.mp4", generation_id="deadbeef" + "0" * 24)
    frames, fps = read_video(tmp_path / "out.mp4")
    write_video(tmp_path / "copy.mp4", frames, fps=fps, crf=28)
    result = runner.invoke(app, ["verify", "--json", str(tmp_path / "copy.mp4")])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["c2pa"]["present"] is False
    assert report["watermark"]["detected"] and report["watermark"]["generation_id_prefix"] == "deadbeef"


def test_unmarked_unsigned_file(tmp_path):
    write_video(
        tmp_path / "other.mp4",
        np.random.default_rng(0).integers(0, 256, (9, 96, 96, 3), dtype=np.uint8),
        fps=8,
    )
    result = runner.invoke(app, ["verify", str(tmp_path / "other.mp4")])
    assert result.exit_code == 1
    assert "C2PA: no manifest" in result.output and "watermark: not detected" in result.output


def test_bad_input_exits_2(tmp_path):
    assert runner.invoke(app, ["verify", str(tmp_path / "missing.mp4")]).exit_code == 2
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    result = runner.invoke(app, ["verify", str(tmp_path / "junk.mp4")])
    assert result.exit_code == 2 and "error:" in result.output


def test_keys_init(tmp_path):
    result = runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "k" / "signer.pem").is_file() and (tmp_path / "k" / "root-ca.pem").is_file()
    assert runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "k")]).exit_code == 2
    assert runner.invoke(app, ["keys", "init", "--dir", str(tmp_path / "k"), "--force"]).exit_code == 0
