"""`haneul generate` / `haneul info` end to end: files read back with PyAV, every bad input is exit 2 with no file."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from haneul.cli import app
from haneul.video_io import read_image, read_video

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_generate_mp4_reads_back(tmp_path, tiny_model_dir):
    out = tmp_path / "ball.mp4"
    result = run(
        "generate",
        "a red ball bounces",
        "-o",
        out,
        "--model",
        tiny_model_dir,
        "--size",
        "96x64",
        "--seconds",
        "1",
        "--fps",
        "8",
        "--steps",
        "2",
        "--seed",
        "3",
    )
    assert result.exit_code == 0, result.output
    assert "sampling" in result.output and "2/2" in result.output  # the progress bar
    frames, fps = read_video(out)
    assert frames.shape == (9, 64, 96, 3)
    assert fps == pytest.approx(8)


def test_generate_png_one_frame(tmp_path, tiny_model_dir):
    out = tmp_path / "still.png"
    result = run("generate", "a red ball", "-o", out, "--model", tiny_model_dir, "--steps", "1")
    assert result.exit_code == 0, result.output
    assert read_image(out).shape == (64, 64, 3)


@pytest.mark.parametrize(
    "args,match",
    [
        (["--size", "70x60"], "nearest valid"),
        (["--size", "big"], "WIDTHxHEIGHT"),
        (["--seconds", "600"], "limit"),
        (["--fps", "0"], "fps"),
        (["--num-frames", "6"], "1 + 4k; nearest: 5, 9"),
    ],
)
def test_bad_options_exit_2_without_output(tmp_path, tiny_model_dir, args, match):
    out = tmp_path / "x.mp4"
    result = run("generate", "a ball", "-o", out, "--model", tiny_model_dir, *args)
    assert result.exit_code == 2
    assert match in result.output
    assert "sampling" not in result.output  # the error comes before any progress bar
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_inputs_exit_2(tmp_path, tiny_model_dir):
    cases = [
        (["generate", "  ", "-o", tmp_path / "a.mp4", "--model", tiny_model_dir], "prompt is empty"),
        (["generate", "a ball", "-o", tmp_path / "a.gif", "--model", tiny_model_dir], ".mp4 or .png"),
        (
            ["generate", "a ball", "-o", tmp_path / "no" / "a.mp4", "--model", tiny_model_dir],
            "does not exist",
        ),
        (["generate", "a ball", "-o", tmp_path / "a.mp4", "--model", tmp_path / "missing"], "does not exist"),
        (["generate", "a ball", "-o", tmp_path / "a.mp4", "--model", tmp_path], "not a haneul model"),
        (
            ["generate", "a ball", "-o", tmp_path / "a.png", "--seconds", "2", "--model", tiny_model_dir],
            "one frame",
        ),
    ]
    for args, match in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert match in result.output, (args, result.output)
    assert not any(p.suffix in (".mp4", ".png", ".gif") for p in tmp_path.rglob("*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_exit_2(tmp_path, tiny_model_dir):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run("generate", "a ball", "-o", locked / "a.mp4", "--model", tiny_model_dir)
    assert result.exit_code == 2 and "not writable" in result.output


def test_info_prints_card_and_support(tiny_model_dir):
    result = run("info", "--model", tiny_model_dir)
    assert result.exit_code == 0, result.output
    assert "haneul-tiny" in result.output
    assert "64x64" in result.output and "max frames" in result.output and "modes" in result.output


def test_entry_point_runs_as_a_program(tmp_path, tiny_model_dir):
    """The installed console script, in a real process (a declared entry point must exist and work)."""
    out = tmp_path / "v.mp4"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "haneul",
            "generate",
            "a ball",
            "-o",
            str(out),
            "--model",
            str(tiny_model_dir),
            "--num-frames",
            "5",
            "--steps",
            "1",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_video(out)[0].shape[0] == 5
    bad = subprocess.run(
        [sys.executable, "-m", "haneul", "generate", "a ball", "-o", str(tmp_path / "v.avi")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_refused_prompt_exit_3_without_output(tmp_path, tiny_model_dir):
    out = tmp_path / "x.mp4"
    result = run("generate", "a man shooting people in a crowd", "-o", out, "--model", tiny_model_dir, "-q")
    assert result.exit_code == 3, result.output
    assert "refused" in result.output and "violence" in result.output
    assert not out.exists()


def test_output_is_signed_and_watermarked(tmp_path, tiny_model_dir):
    out = tmp_path / "v.mp4"
    result = run(
        "generate",
        "a red ball",
        "-o",
        out,
        "--model",
        tiny_model_dir,
        "--num-frames",
        "17",
        "--steps",
        "1",
        "--visible-watermark",
        "-q",
    )
    assert result.exit_code == 0, result.output
    verified = run("verify", out, "--json")
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.output[verified.output.index("{") :])
    assert report["verified"] and report["c2pa"]["trusted"] and report["watermark"]["detected"]
