"""`haneul generate` and `haneul info`: build a request, call the pipeline, write the output.

Bad input is one line on stderr and exit code 2, a refused prompt exit code 3, and in both cases no
output file is written.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from haneul.errors import InputError, ModerationBlocked

EXIT_INPUT = 2
EXIT_MODERATION = 3


def fail(message: str, code: int = EXIT_INPUT) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def user_errors():
    """Turn the errors a user can cause into one line and an exit code; let real bugs show their traceback."""
    try:
        yield
    except InputError as e:
        fail(str(e))
    except ModerationBlocked as e:
        fail(f"prompt refused ({e.category}): {e.message}", EXIT_MODERATION)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def parse_size(size: str | None) -> tuple[int | None, int | None]:
    if size is None:
        return None, None
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", size)
    if not match:
        raise InputError(f"size {size!r} must look like WIDTHxHEIGHT, for example 128x128", param="size")
    return int(match.group(1)), int(match.group(2))


def default_output(prompt: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:48] or "video"
    return Path(f"{slug}.mp4")


@contextmanager
def progress_bar(description: str, enabled: bool = True):
    """A rich progress bar on stderr; yields a (step, total) callback for the pipeline."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, disable=not enabled, transient=False) as bar:
        task = bar.add_task(description, total=None)

        def update(step: int, total: int) -> None:
            bar.update(task, completed=step, total=total)

        yield update


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("info")(info)


def load(model: Path | None):
    from haneul.pipeline import load_pipeline

    return load_pipeline(model)


def generate(
    prompt: Annotated[str, typer.Argument(help="What the video shows.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Output .mp4 (or .png for one frame). Default: from the prompt."),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(help="WIDTHxHEIGHT on the model's grid; default the model's first native size."),
    ] = None,
    seconds: Annotated[
        float | None, typer.Option(help="Duration; rounded up to whole latent frames.")
    ] = None,
    num_frames: Annotated[
        int | None, typer.Option(help="Exact frame count (1 + 4k); overrides --seconds.")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frames per second; default the model's.")] = None,
    steps: Annotated[
        int | None, typer.Option("--steps", "--num-steps", help="Sampling steps; default the model's.")
    ] = None,
    guidance: Annotated[
        float | None, typer.Option(help="Classifier-free guidance scale; default the model's.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same video.")] = 0,
    negative_prompt: Annotated[str, typer.Option(help="What the video should not show.")] = "",
    sampler: Annotated[str | None, typer.Option(help="euler or heun.")] = None,
    model: Annotated[Path | None, typer.Option(help="Model directory; default the bundled model.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate a video from a text prompt and write it as MP4 (H.264) or, for one frame, PNG."""
    from haneul.outputs import save_output
    from haneul.video_io import check_output_path

    with user_errors():
        output = output or default_output(prompt)
        check_output_path(output)
        width, height = parse_size(size)
        if output.suffix.lower() == ".png":
            if (num_frames or 1) != 1 or seconds is not None:
                raise InputError(
                    "a .png output holds one frame; drop --seconds/--num-frames or write .mp4", param="output"
                )
            num_frames = 1
        if not prompt.strip():
            raise InputError("prompt is empty; describe the video to generate", param="prompt")
        pipe = load(model)
        with progress_bar("sampling", enabled=not quiet) as update:
            video = pipe.generate(
                prompt,
                width=width,
                height=height,
                seconds=seconds,
                num_frames=num_frames,
                fps=fps,
                num_steps=steps,
                guidance=guidance,
                seed=seed,
                negative_prompt=negative_prompt,
                sampler=sampler,
                progress=update,
            )
        save_output(video, output)
    f, h, w = video.frames.shape[:3]
    typer.echo(f"wrote {output} ({w}x{h}, {f} frames at {video.fps:g} fps, seed {video.seed})")


def info(
    model: Annotated[Path | None, typer.Option(help="Model directory; default the bundled model.")] = None,
) -> None:
    """Print the model card and what the model supports."""
    with user_errors():
        pipe = load(model)
        described = pipe.info()
    sizes = ", ".join(f"{w}x{h}" for w, h in described.sizes)
    fps = ", ".join(f"{f:g}" for f in described.fps)
    typer.echo(described.card.rstrip() or f"# {described.name}\n(no model card)")
    typer.echo("")
    typer.echo(f"model:      {described.name}")
    typer.echo(f"sizes:      {sizes} (native)")
    typer.echo(f"fps:        {fps}")
    typer.echo(f"max frames: {described.max_frames} per window")
    typer.echo(f"modes:      {', '.join(described.modes)}")
