"""`haneul eval world --model DIR`: make the benchmark's videos with a model before scoring them.

Each prompt row (the standard set's format: id, prompt, seed, width, height, seconds, fps) becomes
`videos/<id>.mp4` through the pipeline and `save_output`, and `videos/videos.jsonl` lists them in the
format `read_items` takes, so a generated set can be re-scored later without generating again. Each line
also keeps the caption the model saw: the expanded one, or with `expand=False` the prompt as typed (to
measure what prompt expansion adds, score both ways). A video the safety checks refuse is not saved (as
everywhere in haneul); its line says `refused` and the benchmark scores it 0 on every dimension it tests.
"""

from __future__ import annotations

import json
from pathlib import Path

from haneul.errors import ModerationBlocked
from haneul.video_io import AtomicPath


def generate_videos(
    model_dir: str | Path,
    rows: list[dict],
    out_dir: str | Path,
    num_steps: int | None = None,
    guidance: float | None = None,
    autoguidance: float | None = None,
    contrast: float | None = None,
    progress: bool = True,
    expand: bool = True,
) -> Path:
    """Generate one video per row into out_dir; returns the path of the JSONL that lists them.

    expand: let the model's prompt expander rewrite each prompt (as `haneul generate` does by default);
    the videos are scored against the prompt either way.
    """
    from rich.progress import Progress

    from haneul.outputs import save_output
    from haneul.pipeline import load_pipeline

    pipeline = load_pipeline(model_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("generating videos", total=len(rows))
        for row in rows:
            keep = {k: row[k] for k in ("id", "prompt", "seed", "targets") if k in row}
            name = f"{row['id']}.mp4"
            try:
                video = pipeline.generate(
                    row["prompt"],
                    width=row.get("width"),
                    height=row.get("height"),
                    seconds=row.get("seconds"),
                    fps=row.get("fps"),
                    num_steps=num_steps,
                    guidance=guidance,
                    autoguidance=autoguidance,
                    contrast=contrast,
                    seed=int(row.get("seed", 0)),
                    expand=expand,
                )
                save_output(video, out / name)
                line = {"file": name, **keep, "caption": video.caption, "expanded": expand}
            except ModerationBlocked as e:
                line = {"file": name, **keep, "refused": e.category, **_shape(pipeline, row)}
                bar.console.print(f"{row['id']}: refused ({e.category}); scored 0")
            lines.append(json.dumps(line, ensure_ascii=False))
            bar.advance(task)
    listing = out / "videos.jsonl"
    with AtomicPath(listing) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing


def _shape(pipeline, row: dict) -> dict:
    """What a refused row's video would have been (the pipeline's own size and frame-count rules): the
    benchmark needs it to know what the prompt tests."""
    width, height = pipeline.check_size(row.get("width"), row.get("height"))
    fps = float(row.get("fps") or pipeline.spec.fps[0])
    frames = pipeline.check_frames(None, row.get("seconds"), fps)
    return {"size": [width, height], "num_frames": frames, "fps": fps}
