"""`haneul eval world --model DIR`: make the benchmark's videos with a model before scoring them.

Each prompt row (the standard set's format: id, prompt, seed, width, height, seconds, fps) becomes
`videos/<id>.mp4` through the pipeline and `save_output`, and `videos/videos.jsonl` lists them in the
format `read_items` takes, so a generated set can be re-scored later without generating again. Each line
also keeps the caption the model saw: the expanded one, or with `expand=False` the prompt as typed (to
measure what prompt expansion adds, score both ways).
"""

from __future__ import annotations

import json
from pathlib import Path

from haneul.video_io import AtomicPath


def generate_videos(
    model_dir: str | Path,
    rows: list[dict],
    out_dir: str | Path,
    num_steps: int | None = None,
    guidance: float | None = None,
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
            video = pipeline.generate(
                row["prompt"],
                width=row.get("width"),
                height=row.get("height"),
                seconds=row.get("seconds"),
                fps=row.get("fps"),
                num_steps=num_steps,
                guidance=guidance,
                seed=int(row.get("seed", 0)),
                expand=expand,
            )
            name = f"{row['id']}.mp4"
            save_output(video, out / name)
            keep = {k: row[k] for k in ("id", "prompt", "seed", "targets") if k in row}
            line = {"file": name, **keep, "caption": video.caption, "expanded": expand}
            lines.append(json.dumps(line, ensure_ascii=False))
            bar.advance(task)
    listing = out / "videos.jsonl"
    with AtomicPath(listing) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing
