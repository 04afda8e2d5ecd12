"""`haneul expand`, `haneul caption` and the expansion flags of `haneul generate`, end to end."""

import base64
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from haneul.cli import app
from haneul.prompting import expand_prompt
from haneul.prompting.fake_server import FakeChatServer
from haneul.video_io import write_image, write_video

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_expand_prints_the_caption_and_warns_about_unknown_words():
    result = run("expand", "빨간 공이 튄다 강아지", "--seed", "4")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == expand_prompt("빨간 공이 튄다 강아지", 4).caption
    assert "warning: not in the model's vocabulary, left out: '강아지'" in result.stderr


def test_expand_json_and_shape():
    result = run("expand", "a red ball bounces", "--json", "--size", "160x96", "--seconds", "4")
    data = json.loads(result.stdout)
    want = expand_prompt("a red ball bounces", 0, width=160, height=96, num_frames=33, fps=8.0)
    assert data == want.to_dict() and data["source"] == "builtin"


def test_expand_bad_size_is_exit_2():
    result = run("expand", "a red ball", "--size", "big")
    assert result.exit_code == 2 and "WIDTHxHEIGHT" in result.output


def test_expand_with_a_chat_endpoint_and_a_model_without_builtin_expander(tmp_path, tiny_model_dir):
    folder = tmp_path / "city"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "haneul.json").write_text(json.dumps({"name": "city"}))
    with FakeChatServer() as server:
        result = run("expand", "a dog", "--expander-url", server.url, "--model", folder)
        assert result.stdout.strip() == "A detailed caption of: a dog"
        server.fail_next = 10
        down = run("expand", "a dog", "--expander-url", server.url, "--model", folder, "--json")
    data = json.loads(down.stdout)
    assert data["source"] == "fallback" and data["caption"] == "a dog"
    assert "expander endpoint failed" in data["warnings"][0]


@pytest.mark.parametrize("temporal_factor, frames", [(4, 21), (2, 19)])
def test_expand_rounds_frames_as_generate_does_for_the_model(
    tmp_path, tiny_model_dir, temporal_factor, frames
):
    """18 frames (2.25 s at 8 fps) become 1 + k * the VAE's time compression, the count `generate` makes."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "haneul.json").write_text(json.dumps({"name": "w", "expander": "world"}))
    vae = json.loads((folder / "vae" / "config.json").read_text())
    (folder / "vae" / "config.json").write_text(json.dumps({**vae, "temporal_factor": temporal_factor}))
    result = run(
        "expand", "a red ball falls", "--json", "--seconds", "2.25", "--seed", "2", "--model", folder
    )
    assert result.exit_code == 0, result.output
    want = expand_prompt("a red ball falls", 2, num_frames=frames, fps=8.0)  # "and later" at 21 only
    assert json.loads(result.stdout) == want.to_dict()


def test_expand_model_without_a_vae_config_is_exit_2(tmp_path):
    (tmp_path / "haneul.json").write_text(json.dumps({"name": "broken"}))
    result = run("expand", "a dog", "--model", tmp_path)
    assert result.exit_code == 2 and "VAE" in result.output


@pytest.fixture(scope="module")
def world_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny test model, declared as trained on the world (haneul.json "expander": "world")."""
    folder = tmp_path_factory.mktemp("world-tiny") / "model"
    shutil.copytree(tiny_model_dir, folder)
    spec = json.loads((folder / "haneul.json").read_text())
    (folder / "haneul.json").write_text(json.dumps({**spec, "expander": "world"}))
    return folder


def test_generate_prints_the_expanded_caption_and_no_expand_keeps_the_prompt(tmp_path, world_model_dir):
    prompt = "파란 상자가 회전한다"
    common = ["--model", world_model_dir, "--num-frames", "5", "--steps", "1", "--seed", "2", "-q"]
    on = run("generate", prompt, "-o", tmp_path / "on.mp4", *common)
    off = run("generate", prompt, "-o", tmp_path / "off.mp4", "--no-expand", *common)
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    want = expand_prompt(prompt, 2, width=64, height=64, num_frames=5, fps=8.0).caption
    assert f"caption: {want}\n" in on.stderr and "blue box" in want
    assert f"caption: {prompt}\n" in off.stderr
    assert (tmp_path / "on.mp4").is_file() and (tmp_path / "off.mp4").is_file()
    # The output's signed metadata (C2PA) names the caption the model saw, by its SHA-256 (like the prompt).
    from haneul.safety import provenance

    for name, caption in (("on.mp4", want), ("off.mp4", prompt)):
        manifest = provenance.read_manifest(tmp_path / name)["manifest"]
        generation = provenance.summarize(manifest)["generation"]
        assert generation["caption_sha256"] == provenance.sha256_text(caption), name
        assert generation["prompt_sha256"] == provenance.sha256_text(prompt), name


def test_generate_with_a_chat_endpoint_from_the_environment(tmp_path, world_model_dir, monkeypatch):
    """`haneul generate` expands through a real local chat server named by HANEUL_EXPANDER_URL/_MODEL, with
    OPENAI_API_KEY as the bearer token; when the server fails, the model's world expander takes over."""
    monkeypatch.delenv("HANEUL_EXPANDER_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    prompt = "a red ball bounces"
    common = ["--model", world_model_dir, "--num-frames", "5", "--steps", "1", "--seed", "2", "-q"]
    with FakeChatServer() as server:
        monkeypatch.setenv("HANEUL_EXPANDER_URL", server.url)
        monkeypatch.setenv("HANEUL_EXPANDER_MODEL", "qwen2.5-3b")
        ok = run("generate", prompt, "-o", tmp_path / "llm.mp4", *common)
        assert ok.exit_code == 0, ok.output
        assert f"caption: A detailed caption of: {prompt}\n" in ok.stderr
        body, headers = server.requests[0], server.headers[0]
        assert body["model"] == "qwen2.5-3b" and headers["Authorization"] == "Bearer sk-env"
        server.fail_next = 10
        down = run("generate", prompt, "-o", tmp_path / "down.mp4", "--expander-url", server.url, *common)
    assert down.exit_code == 0, down.output
    builtin = expand_prompt(prompt, 2, width=64, height=64, num_frames=5, fps=8.0).caption
    assert "expander endpoint failed" in down.stderr and f"caption: {builtin}\n" in down.stderr


# ---- haneul caption -------------------------------------------------------------------------------------------


def vision_reply(body: dict) -> str:
    """Answer like a vision model: the caption names how many images arrived (and checks they are JPEGs)."""
    parts = body["messages"][-1]["content"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    for url in images:
        head, data = url.split(",", 1)
        assert head == "data:image/jpeg;base64"
        Image.open(io.BytesIO(base64.b64decode(data))).verify()
    return f'```json\n{{"caption": "A clip seen in {len(images)} frames.", "short_caption": "a clip"}}\n```'


@pytest.fixture
def media_dir(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    (folder / "videos").mkdir(parents=True)
    write_video(folder / "videos" / "a.mp4", rng.integers(0, 255, (12, 48, 64, 3), dtype=np.uint8), fps=6)
    write_video(folder / "videos" / "b.mp4", rng.integers(0, 255, (3, 32, 32, 3), dtype=np.uint8), fps=10)
    write_image(folder / "still.png", rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    (folder / "broken.mp4").write_bytes(b"not a video")
    (folder / "notes.txt").write_text("ignored")
    return folder


def test_caption_writes_the_jsonl_training_reads(media_dir):
    from haneul.train.data import read_metadata

    with FakeChatServer(reply=vision_reply) as server:
        result = run("caption", media_dir, "--endpoint", server.url, "--frames", "4", "-q")
        assert result.exit_code == 0, result.output
        assert "skipped 1 file(s)" in result.stderr and "broken.mp4" in result.stderr
        rows = [json.loads(line) for line in (media_dir / "metadata.jsonl").read_text().splitlines()]
        assert [r["file"] for r in rows] == ["still.png", "videos/a.mp4", "videos/b.mp4"]
        assert rows[1] == {
            "file": "videos/a.mp4",
            "caption": "A clip seen in 4 frames.",
            "short_caption": "a clip",
            "width": 64,
            "height": 48,
            "num_frames": 12,
            "fps": 6.0,
        }
        assert rows[2]["caption"] == "A clip seen in 3 frames." and rows[2]["num_frames"] == 3
        assert rows[0]["num_frames"] == 1 and (rows[0]["width"], rows[0]["height"]) == (30, 40)
        items = read_metadata(media_dir)  # the training data reader accepts it
        assert [i.is_image for i in items] == [True, False, False]
        again = run("caption", media_dir, "--endpoint", server.url, "-q")  # resumes: nothing new to do
        assert "wrote 0 caption(s)" in again.stdout and "3 already listed" in again.stdout
        assert len(server.requests) == 3


def test_caption_endpoint_down_is_exit_2_and_bad_replies_are_skipped(media_dir):
    with FakeChatServer() as server:  # answers prose, not the asked-for JSON
        result = run("caption", media_dir, "--endpoint", server.url, "--out", media_dir / "m.jsonl", "-q")
        assert result.exit_code == 0 and "skipped 4 file(s)" in result.stderr
        server.fail_next = 100
        down = run("caption", media_dir, "--endpoint", server.url, "--retries", "0", "-q")
    assert down.exit_code == 2 and "caption endpoint failed" in down.output and "HTTP 500" in down.output
