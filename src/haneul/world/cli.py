"""`haneul world ...`: render a prompt in the procedural world, export a data set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from haneul.errors import InputError

app = typer.Typer(
    help="The procedural world: render prompts as ground-truth videos, export training data.",
    no_args_is_help=True,
)


def _sizes(text: str) -> list[tuple[int, int]]:
    from haneul.generate_cli import parse_size

    out = []
    for part in text.split(","):
        w, h = parse_size(part)
        out.append((w, h))
    return out


def _numbers(text: str, name: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(
            f"--{name} {text!r} must be comma-separated numbers, e.g. 1,2,4", param=name
        ) from None


@app.command()
def render(
    prompt: Annotated[str, typer.Argument(help="A scene in the world's vocabulary, English or Korean.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4 (or .png for one frame).")],
    size: Annotated[str, typer.Option(help="WIDTHxHEIGHT, even numbers.")] = "256x256",
    seconds: Annotated[float, typer.Option(help="Duration in seconds.")] = 2.0,
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Fills what the prompt leaves open; same seed, same video.")] = 0,
    truth: Annotated[
        Path | None, typer.Option(help="Also write the per-frame ground truth as JSON here.")
    ] = None,
) -> None:
    """Render a ground-truth video of a prompt, e.g. `haneul world render "a red ball bounces on green grass" -o gt.mp4`."""
    from haneul.generate_cli import parse_size, user_errors
    from haneul.video_io import check_output_path, write_image, write_video
    from haneul.world.clips import render_clip

    with user_errors():
        width, height = parse_size(size)
        path = check_output_path(output)
        num_frames = 1 if path.suffix.lower() == ".png" else max(1, int(round(seconds * fps)))
        clip = render_clip(prompt, width, height, num_frames, fps, seed)
        if path.suffix.lower() == ".png":
            write_image(path, clip.frames[0])
        else:
            write_video(path, clip.frames, fps=fps)
        if truth is not None:
            truth.write_text(json.dumps(clip.truth, ensure_ascii=False), encoding="utf-8")
    typer.echo(clip.caption)
    typer.echo(f"wrote {path} ({width}x{height}, {num_frames} frames at {fps:g} fps)", err=True)


@app.command()
def export(
    n: Annotated[int, typer.Option("--n", help="Number of clips.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (created).")],
    sizes: Annotated[str, typer.Option(help="Comma-separated WIDTHxHEIGHT list.")] = "128x128,160x96,96x160",
    seconds: Annotated[str, typer.Option(help="Comma-separated durations in seconds.")] = "1,2,4",
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Data set seed; clip i uses a seed derived from it.")] = 0,
    images_fraction: Annotated[float, typer.Option(help="Share of one-frame images (PNG).")] = 0.1,
    truth: Annotated[bool, typer.Option(help="Write per-frame ground truth JSON files.")] = True,
) -> None:
    """Write a data set: DIR/metadata.jsonl + videos/ + images/ + truth/ (format: docs/dataset.md)."""
    from haneul.generate_cli import progress_bar, user_errors
    from haneul.world.export import export_dataset

    with user_errors():
        size_list = _sizes(sizes)
        second_list = _numbers(seconds, "seconds")
        with progress_bar(f"rendering {n} world clips", enabled=True) as update:
            path = export_dataset(
                out, n, size_list, second_list, fps, seed, images_fraction, truth, progress=update
            )
    typer.echo(f"wrote {n} clips; index {path}")


@app.command()
def vocabulary() -> None:
    """Print every word the world understands (English, with the Korean word for each)."""
    from haneul.world.vocab import vocabulary_text

    typer.echo(vocabulary_text())
