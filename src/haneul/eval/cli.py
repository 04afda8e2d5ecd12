"""`haneul eval ...`: the world-simulation benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Measure a model: the world-simulation benchmark.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Measure a model: the world-simulation benchmark."""


@app.command()
def world(
    videos: Annotated[
        Path | None,
        typer.Argument(
            help="A JSONL of {file, prompt, seed?, id?} lines, or a folder holding one next to its videos."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for results.json, report.html (and videos).")
    ] = Path("world_eval"),
    model: Annotated[Path | None, typer.Option(help="Generate the videos with this model first.")] = None,
    prompts: Annotated[
        Path | None,
        typer.Option(
            help="With --model: prompts (JSONL like the standard set, or text); default: the standard set."
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            help="With --model: an evenly spaced sample of N prompts, so every group shows (0: all)."
        ),
    ] = 0,
    steps: Annotated[
        int | None, typer.Option("--steps", help="With --model: sampling steps (default: the model's).")
    ] = None,
    guidance: Annotated[
        float | None, typer.Option(help="With --model: guidance scale (default: the model's).")
    ] = None,
    autoguidance: Annotated[
        float | None,
        typer.Option(
            help="With --model: autoguidance weight, for a model with a guide (default: the model's; 1: off)."
        ),
    ] = None,
    contrast: Annotated[
        float | None,
        typer.Option(help="With --model: contrast guidance weight (default: the model's; 1: off)."),
    ] = None,
    expand: Annotated[
        bool,
        typer.Option(
            "--expand/--no-expand",
            help="With --model: expand prompts with the model's expander before generating (default, as "
            "`haneul generate` does); --no-expand generates from the prompts as typed.",
        ),
    ] = True,
    report: Annotated[
        bool, typer.Option(help="Write report.html with contact sheets and trajectory plots.")
    ] = True,
) -> None:
    """Score videos against their prompts: colour, kind, count, relations, direction, gravity, permanence,
    temporal consistency, background; writes OUT/results.json and OUT/report.html."""
    from haneul.generate_cli import user_errors

    with user_errors():
        guides = {"guidance": guidance, "autoguidance": autoguidance, "contrast": contrast}
        items = _items(videos, out, model, prompts, limit, steps, guides, expand)
        meta = {"source": str(model or videos)}
        if model is not None:
            meta["expand"] = expand
            given = {"steps": steps, **guides}
            meta.update({k: v for k, v in given.items() if v is not None})  # what the videos were made with
        summary, paths = _score(items, out, report, meta)
    _print_summary(summary)
    typer.echo(f"wrote {paths['json']}" + (f" and {paths['html']}" if report else ""), err=True)


def _items(videos, out, model, prompts, limit, steps, guides, expand):
    from haneul.errors import InputError
    from haneul.eval.benchmark import read_items

    if model is None and videos is None:
        raise InputError("give VIDEOS (a JSONL or folder) or --model DIR to generate them", param="videos")
    if model is not None and videos is not None:
        raise InputError("give either VIDEOS or --model, not both", param="videos")
    if model is None:
        given = {"--steps": steps, **{f"--{k}": v for k, v in guides.items()}}
        if any(v is not None for v in given.values()):
            names = ", ".join(k for k, v in given.items() if v is not None)
            raise InputError(f"{names} need --model (they set how its videos are made)", param="model")
        return read_items(videos)
    from haneul.eval.generate import generate_videos
    from haneul.eval.prompt_set import STANDARD_SET, load_prompts

    rows = load_prompts(prompts or STANDARD_SET)
    if limit > 0:
        rows = rows[:: max(1, len(rows) // limit)][:limit]
    listing = generate_videos(
        model,
        rows,
        out / "videos",
        num_steps=steps,
        **guides,
        expand=expand,
    )
    return read_items(listing)


def _score(items, out: Path, report: bool, meta: dict):
    from haneul.eval.benchmark import run_benchmark
    from haneul.eval.report import video_section, write_outputs

    sections: list[str] = []

    def on_result(result) -> None:
        if report:
            sections.append(video_section(result))
        result.frames = result.exp = result.match = None  # keep memory flat over hundreds of videos

    results, summary = run_benchmark(items, on_result=on_result, keep=report)
    return summary, write_outputs(out, results, summary, sections, meta, with_html=report)


def _print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="haneul world benchmark")
    table.add_column("dimension")
    table.add_column("mean", justify="right")
    table.add_column("videos", justify="right")
    for dim, v in summary.items():
        table.add_row(dim, "-" if v["mean"] is None else f"{v['mean']:.3f}", str(v["n"]))
    Console(stderr=True).print(table)
    typer.echo(json.dumps({k: v["mean"] for k, v in summary.items()}))
