"""`haneul world render|export` end to end (real MP4 through PyAV), and the training stream."""

import itertools
import json

import av
import numpy as np
from typer.testing import CliRunner

from haneul.cli import app
from haneul.video_io import read_image, read_video
from haneul.world import iter_world_clips

runner = CliRunner()


def test_render_writes_an_mp4_with_the_right_frames_size_and_fps(tmp_path):
    out, truth = tmp_path / "gt.mp4", tmp_path / "truth.json"
    result = runner.invoke(
        app,
        [
            "world",
            "render",
            "a red ball bounces on green grass",
            "-o",
            str(out),
            "--size",
            "160x96",
            "--seconds",
            "1.5",
            "--fps",
            "10",
            "--seed",
            "3",
            "--truth",
            str(truth),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "red ball" in result.stdout
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert float(stream.average_rate) == 10.0
    assert len(frames) == 15 and frames[0].shape == (96, 160, 3)
    data = json.loads(truth.read_text())
    assert (
        len(data["frames"]) == 15
        and data["objects"][0]["colour"] == "red"
        and data["spec"]["background"] == "grass"
    )
    # the decoded video still shows red where the truth puts the ball (H.264 is lossy: a tolerance)
    x, y = (int(v) for v in data["frames"][0]["objects"][0]["centre"])
    assert np.abs(frames[0][y, x].astype(int) - (220, 30, 40)).max() < 30


def test_render_png_and_bad_input(tmp_path):
    result = runner.invoke(
        app,
        [
            "world",
            "render",
            "파란 별이 밤하늘에서 회전한다",
            "-o",
            str(tmp_path / "a.png"),
            "--size",
            "64x48",
        ],
    )
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "a.png").shape == (48, 64, 3)
    result = runner.invoke(app, ["world", "render", "a purple unicorn", "-o", str(tmp_path / "b.mp4")])
    assert result.exit_code == 2 and "unicorn" in result.output and "kinds:" in result.output
    assert not (tmp_path / "b.mp4").exists()
    result = runner.invoke(
        app, ["world", "render", "a ball", "-o", str(tmp_path / "c.mp4"), "--size", "63x64"]
    )
    assert result.exit_code == 2 and "even" in result.output


def test_export_writes_the_dataset_format(tmp_path):
    out = tmp_path / "data"
    result = runner.invoke(
        app,
        [
            "world",
            "export",
            "--n",
            "6",
            "--out",
            str(out),
            "--sizes",
            "64x64,96x64",
            "--seconds",
            "0.5,1",
            "--fps",
            "8",
            "--seed",
            "1",
            "--images-fraction",
            "0.3",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert len(lines) == 6
    for line in lines:
        assert {
            "file",
            "caption",
            "short_caption",
            "width",
            "height",
            "num_frames",
            "fps",
            "seed",
            "truth",
        } <= set(line)
        path = out / line["file"]
        if path.suffix == ".png":
            frames = read_image(path)[None]
        else:
            frames, fps = read_video(path)
            assert fps == line["fps"]
        assert frames.shape == (line["num_frames"], line["height"], line["width"], 3)
        assert (line["width"], line["height"]) in ((64, 64), (96, 64)) and line["num_frames"] in (1, 4, 8)
        assert len(json.loads((out / line["truth"]).read_text())["frames"]) == line["num_frames"]
    assert any(line["num_frames"] == 1 for line in lines)


def test_iter_world_clips_is_deterministic_mixed_and_splittable():
    sizes, counts = [(64, 64), (96, 64), (64, 96)], [1, 4, 8]
    a = list(itertools.islice(iter_world_clips(5, sizes, counts, 8.0), 8))
    b = list(itertools.islice(iter_world_clips(5, sizes, counts, 8.0), 8))
    assert all(
        np.array_equal(x.frames, y.frames) and x.caption == y.caption for x, y in zip(a, b, strict=True)
    )
    assert len({x.frames.shape for x in a}) > 2
    odd = list(itertools.islice(iter_world_clips(5, sizes, counts, 8.0, start=1, step=2), 2))
    assert np.array_equal(odd[0].frames, a[1].frames) and np.array_equal(odd[1].frames, a[3].frames)
    clip = a[0]
    assert clip.frames.dtype == np.uint8 and clip.caption and clip.short_caption and clip.truth["frames"]
