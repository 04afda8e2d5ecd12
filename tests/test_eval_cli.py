"""`haneul eval world` end to end: world-rendered MP4s in, results.json and a self-contained report out;
a tiny model generating the videos first; bad input as one line and exit code 2."""

import json
import re

from typer.testing import CliRunner

from haneul.cli import app

runner = CliRunner()
PROMPTS = [
    ("a red ball bounces on green grass", 1),
    ("a blue star moves to the right slowly", 2),
    ("a yellow box passes behind a tree", 3),
]


def test_scores_a_folder_of_world_videos(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    lines = []
    for k, (prompt, seed) in enumerate(PROMPTS):
        result = runner.invoke(
            app,
            [
                "world",
                "render",
                prompt,
                "-o",
                str(videos / f"v{k}.mp4"),
                "--size",
                "128x128",
                "--seconds",
                "4",
                "--seed",
                str(seed),
            ],
        )
        assert result.exit_code == 0, result.output
        lines.append(json.dumps({"file": f"v{k}.mp4", "prompt": prompt, "seed": seed}))
    (videos / "list.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["eval", "world", str(videos), "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    assert [v["id"] for v in data["videos"]] == ["v0", "v1", "v2"]
    assert data["summary"]["overall"]["mean"] >= 0.95
    by_id = {v["id"]: v["scores"] for v in data["videos"]}
    assert by_id["v0"]["gravity"] >= 0.95 and by_id["v0"]["permanence"] is None  # null, not 1.0
    assert by_id["v2"]["permanence"] >= 0.95 and by_id["v2"]["gravity"] is None
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 * len(PROMPTS)  # contact sheet + trajectories each
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # self-contained


def test_generates_with_a_model_then_scores(tmp_path, tiny_model_dir):
    prompts = tmp_path / "prompts.jsonl"
    rows = [
        {
            "id": "t0",
            "prompt": "a red ball bounces",
            "seed": 0,
            "width": 64,
            "height": 64,
            "seconds": 1.0,
            "fps": 8.0,
        }
    ]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    args = [
        "eval",
        "world",
        "--model",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--steps",
        "2",
        "--out",
        str(out),
        "--no-report",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "videos" / "t0.mp4").is_file() and (out / "videos" / "videos.jsonl").is_file()
    data = json.loads((out / "results.json").read_text())
    scores = data["videos"][0]["scores"]
    assert set(scores) >= {"colour", "gravity", "overall"} and 0.0 <= scores["overall"] <= 1.0
    assert not (out / "report.html").exists()


def test_scores_with_and_without_prompt_expansion(tmp_path, tiny_model_dir):
    """--no-expand (Python: expand=False) generates from the prompt as typed; by default a model whose
    haneul.json asks for the world expander sees the detailed caption. Both are scored on the prompt."""
    import shutil

    from haneul.eval.generate import generate_videos

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    card = json.loads((model / "haneul.json").read_text())
    (model / "haneul.json").write_text(json.dumps({**card, "expander": "world"}))
    prompt = "a red ball bounces on green grass"
    row = {"id": "t0", "prompt": prompt, "seed": 3, "width": 64, "height": 64, "seconds": 1.0, "fps": 8.0}
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps(row) + "\n")
    seen = {}
    for flag in ("--expand", "--no-expand"):
        out = tmp_path / flag
        args = ["eval", "world", "--model", str(model), "--prompts", str(prompts), "--steps", "1"]
        result = runner.invoke(app, [*args, "--out", str(out), "--no-report", flag])
        assert result.exit_code == 0, result.output
        listing = json.loads((out / "videos" / "videos.jsonl").read_text())
        data = json.loads((out / "results.json").read_text())
        assert data["expand"] == (flag == "--expand") and data["videos"][0]["prompt"] == prompt
        seen[flag] = listing["caption"]
    assert seen["--no-expand"] == prompt
    assert seen["--expand"] != prompt and "red ball" in seen["--expand"] and "grass" in seen["--expand"]
    # The Python path: same captions.
    for expand, flag in ((True, "--expand"), (False, "--no-expand")):
        listing = generate_videos(model, [row], tmp_path / f"py{expand}", num_steps=1, expand=expand)
        assert json.loads(listing.read_text())["caption"] == seen[flag]


def test_a_refused_video_is_not_saved_and_scores_zero(tmp_path, tiny_model_dir, monkeypatch):
    """The frame check refusing one generated video must not stop the run: that video is never written,
    its line says so, and it scores 0 on what its prompt tests; the others are scored as usual."""
    from haneul.eval.benchmark import read_items, run_benchmark
    from haneul.eval.generate import generate_videos
    from haneul.safety import frames as frame_check

    calls = []

    def refuse_second(frames, checker=None, samples=None):
        calls.append(len(frames))
        flagged = len(calls) == 2
        return frame_check.FrameCheck(True, "test", flagged, "sexual" if flagged else None)

    monkeypatch.setattr(frame_check, "check_frames", refuse_second)
    rows = [
        {"id": f"r{i}", "prompt": p, "seed": s, "width": 64, "height": 64, "seconds": 1.0, "fps": 8.0}
        for i, (p, s) in enumerate(PROMPTS)
    ]
    listing = generate_videos(tiny_model_dir, rows, tmp_path / "videos", num_steps=1, progress=False)
    lines = [json.loads(line) for line in listing.read_text().splitlines()]
    assert [line.get("refused") for line in lines] == [None, "sexual", None]
    assert not (tmp_path / "videos" / "r1.mp4").exists() and (tmp_path / "videos" / "r2.mp4").exists()
    results, summary = run_benchmark(read_items(listing), progress=False)
    refused = results[1]
    assert refused.details == {"refused": "sexual"} and refused.scores["overall"] == 0.0
    assert refused.scores["colour"] == 0.0 and refused.scores["gravity"] is None  # only what it tests
    assert summary["overall"]["n"] == 3
    from haneul.eval.report import video_section

    assert "refused by the safety checks (sexual)" in video_section(refused)


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["eval", "world", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2 and "neither a JSONL file nor a folder" in result.output
    listing = tmp_path / "list.jsonl"
    listing.write_text(json.dumps({"file": "nope.mp4", "prompt": "a red ball"}) + "\n")
    result = runner.invoke(app, ["eval", "world", str(listing)])
    assert result.exit_code == 2 and "does not exist" in result.output
    listing.write_text(json.dumps({"file": "x.mp4"}) + "\n")
    result = runner.invoke(app, ["eval", "world", str(listing)])
    assert result.exit_code == 2 and "'file' and 'prompt'" in result.output
    result = runner.invoke(app, ["eval", "world"])
    assert result.exit_code == 2 and "--model" in result.output
    listing.write_text(json.dumps({"file": "x.mp4", "prompt": "a red ball"}) + "\n")
    result = runner.invoke(app, ["eval", "world", str(listing), "--autoguidance", "2"])
    assert result.exit_code == 2 and "--autoguidance need --model" in result.output
