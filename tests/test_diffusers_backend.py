"""Open video models behind haneul: tiny random diffusers pipelines of every supported family, built
locally and saved with save_pretrained, run through haneul's Python API and CLI. Nothing is downloaded."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("diffusers")

from haneul.backends.tiny_diffusers import KINDS, make_tiny_diffusers_pipeline  # noqa: E402
from haneul.cli import app  # noqa: E402
from haneul.conditioning import FrameCondition  # noqa: E402
from haneul.errors import InputError  # noqa: E402
from haneul.pipeline import load_pipeline  # noqa: E402
from haneul.video_io import read_video, write_image  # noqa: E402

runner = CliRunner()

EXPECTED_MODES = {
    "wan": ["text"],
    "wan-i2v": ["image", "keyframes"],
    "ltx": ["text"],
    "ltx-condition": ["text", "image", "extend", "keyframes", "edit"],
    "cogvideox": ["text"],
    "cogvideox-i2v": ["image"],
    "hunyuan": ["text"],
}


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusers")
    return {kind: make_tiny_diffusers_pipeline(kind, root / kind) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_every_family_generates_through_haneul(tiny_dirs, kind):
    pipe = load_pipeline(tiny_dirs[kind])
    assert pipe.info().modes == EXPECTED_MODES[kind]
    side = pipe.size_multiple * (2 if pipe.size_multiple < 32 else 1)
    conditions = (
        [] if "text" in pipe.info().modes else [FrameCondition(np.full((1, side, side, 3), 90, np.uint8), 0)]
    )
    steps = []
    video = pipe.generate(
        "a red ball",
        width=side,
        height=side,
        num_frames=1 + 2 * pipe.frame_step,
        num_steps=2,
        conditions=conditions,
        seed=1,
        progress=lambda s, n: steps.append((s, n)),
    )
    assert video.frames.shape == (1 + 2 * pipe.frame_step, side, side, 3) and video.frames.dtype == np.uint8
    assert steps and steps[-1][0] == 2
    assert video.metadata["backend"] == "diffusers"


def test_unsupported_mode_is_a_clear_error(tiny_dirs):
    pipe = load_pipeline(tiny_dirs["wan"])
    with pytest.raises(InputError, match="cannot do edit"):
        pipe.generate(
            "a ball", width=32, height=32, num_frames=5, init_video=np.zeros((5, 32, 32, 3), np.uint8)
        )
    with pytest.raises(InputError, match="cannot do"):
        pipe.generate(
            "a ball",
            width=32,
            height=32,
            num_frames=5,
            conditions=[FrameCondition(np.zeros((1, 32, 32, 3), np.uint8), 0)],
        )
    with pytest.raises(InputError, match="grid"):
        pipe.generate("a ball", width=40, height=32)
    with pytest.raises(InputError, match="1 \\+ 4k"):
        pipe.generate("a ball", width=32, height=32, num_frames=6)


def test_other_diffusers_class_and_bad_device(tmp_path, tiny_dirs):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(InputError, match="StableDiffusionPipeline, which haneul does not run"):
        load_pipeline(tmp_path)
    with pytest.raises(InputError, match="device"):
        load_pipeline(tiny_dirs["ltx"], device="tpu")


def test_cli_info_generate_and_mode_error(tmp_path, tiny_dirs):
    result = runner.invoke(app, ["info", "--model", str(tiny_dirs["ltx-condition"])])
    assert result.exit_code == 0, result.output
    assert "LTXConditionPipeline" in result.output and "keyframes" in result.output
    out = tmp_path / "wan.mp4"
    result = runner.invoke(
        app,
        [
            "generate",
            "a red ball",
            "-o",
            str(out),
            "--model",
            str(tiny_dirs["wan"]),
            "--size",
            "32x32",
            "--num-frames",
            "9",
            "--steps",
            "2",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    frames, fps = read_video(out)
    assert frames.shape == (9, 32, 32, 3) and fps == pytest.approx(16)
    still = tmp_path / "still.png"
    write_image(still, np.full((64, 64, 3), 200, np.uint8))
    out = tmp_path / "i2v.mp4"
    result = runner.invoke(
        app,
        [
            "generate",
            "a red ball",
            "-o",
            str(out),
            "--model",
            str(tiny_dirs["ltx-condition"]),
            "--image",
            str(still),
            "--size",
            "64x64",
            "--num-frames",
            "9",
            "--steps",
            "2",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(read_video(out)[0]) == 9
    result = runner.invoke(
        app,
        [
            "generate",
            "a red ball",
            "-o",
            str(tmp_path / "x.mp4"),
            "--model",
            str(tiny_dirs["wan"]),
            "--image",
            str(still),
            "--size",
            "32x32",
            "-q",
        ],
    )
    assert result.exit_code == 2 and "cannot do" in result.output
    assert not (tmp_path / "x.mp4").exists()


def test_server_serves_a_diffusers_model_through_the_openai_sdk(tmp_path, tiny_dirs):
    """`haneul serve --model sora-2=<diffusers dir>`, driven by the official openai SDK."""
    import warnings

    from openai import OpenAI

    from haneul.serve.testing import start_api

    key = "sk-diffusers-0123456789abcdef"
    models = [f"sora-2={tiny_dirs['ltx-condition']}"]
    proc, url = start_api(
        tmp_path / "serve", [key], models, workers=1, extra=["--num-steps", "2", "--poll-after-ms", "100"]
    )
    try:
        client = OpenAI(base_url=url, api_key=key, max_retries=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            video = client.videos.create_and_poll(
                model="sora-2", prompt="a red ball bounces", size="64x64", seconds="1"
            )
            assert video.status == "completed", video.error
            out = tmp_path / "served.mp4"
            client.videos.download_content(video.id).write_to_file(out)
        frames, _ = read_video(out)
        assert frames.shape[1:3] == (64, 64) and len(frames) > 1
    finally:
        proc.stop()
