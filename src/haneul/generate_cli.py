"""`haneul generate` and `haneul info`: build a request, call the pipeline, write the output.

Bad input is one line on stderr and exit code 2, a refused prompt exit code 3, and in both cases no
output file is written.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from haneul.errors import InputError, ModerationBlocked
from haneul.prompting.cli import ExpanderModel, ExpanderUrl
from haneul.video_io import check_output_path

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
    bar = Progress(*columns, console=console, disable=not enabled, transient=False)
    task = bar.add_task(description, total=None)

    def update(step: int, total: int) -> None:
        if not bar.live.is_started:  # shown from the first step: a bad input fails before any bar
            bar.start()
        bar.update(task, completed=step, total=total)

    try:
        yield update
    finally:
        if bar.live.is_started:
            bar.stop()


def save_output(video, output: Path, ingredients: list[Path] = (), visible_watermark: bool = False) -> None:
    """Every output goes through haneul.outputs: frame check, watermark, atomic write, C2PA signing last."""
    from haneul.outputs import save_output as save

    save(video, output, ingredients=[p for p in ingredients if p], visible_watermark=visible_watermark)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("info")(info)
    app.command("join")(join)
    app.command("storyboard")(storyboard)


def load(
    model: Path | None,
    device: str = "cpu",
    dtype: str | None = None,
    cpu_offload: bool = False,
    vae_tiling: bool = False,
):
    from haneul.pipeline import load_pipeline

    return load_pipeline(model, device=device, dtype=dtype, cpu_offload=cpu_offload, vae_tiling=vae_tiling)


Device = Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.")]
Dtype = Annotated[str | None, typer.Option(help="Weights dtype for diffusers models: bf16, fp16 or fp32.")]
CpuOffload = Annotated[
    bool,
    typer.Option(help="Diffusers models: keep weights on the CPU until each part runs (less GPU memory)."),
]
VaeTiling = Annotated[
    bool, typer.Option(help="Diffusers models: decode in tiles (less memory for large sizes).")
]


def read_media(path: Path) -> np.ndarray:
    """An image or a video file as frames (F, H, W, 3) uint8; a still is one frame."""
    from haneul.video_io import is_video_file, read_image, read_video

    if not path.is_file():
        raise InputError(f"input file {str(path)!r} does not exist")
    if is_video_file(path):
        return read_video(path)[0]
    return read_image(path)[None]


def parse_keyframe(text: str) -> tuple[Path, float]:
    """FILE@SECONDS, e.g. start.png@0 or end.png@3.5."""
    path, sep, seconds = text.rpartition("@")
    try:
        if not sep:
            raise ValueError
        return Path(path), float(seconds)
    except ValueError:
        raise InputError(
            f"keyframe {text!r} must look like FILE@SECONDS, for example end.png@3.5", param="keyframe"
        ) from None


def tell_fit(frames: np.ndarray, pipe, width: int | None, height: int | None, what: str) -> None:
    from haneul.conditioning import describe_fit

    w, h = pipe.check_size(width, height)
    note = describe_fit(frames.shape, w, h)
    if note:
        typer.echo(f"note: {what} {note}", err=True)


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
        float | None, typer.Option(help="Duration, up to the model's max_seconds (bundled: 120 s).")
    ] = None,
    num_frames: Annotated[
        int | None,
        typer.Option(
            help="Exact frame count: 1 + k x the model's time compression (e.g. 17, 33); overrides --seconds."
        ),
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frames per second; default the model's.")] = None,
    steps: Annotated[
        int | None, typer.Option("--steps", "--num-steps", help="Sampling steps; default the model's.")
    ] = None,
    guidance: Annotated[
        float | None, typer.Option(help="Classifier-free guidance scale; default the model's.")
    ] = None,
    autoguidance: Annotated[
        float | None,
        typer.Option(help="Weight of the model's guide transformer (1: off); default the model's."),
    ] = None,
    contrast: Annotated[
        float | None,
        typer.Option(
            help="Weight of contrast guidance, away from the caption with its kind words swapped (1: off); "
            "default the model's."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same video.")] = 0,
    negative_prompt: Annotated[str, typer.Option(help="What the video should not show.")] = "",
    sampler: Annotated[str | None, typer.Option(help="euler or heun.")] = None,
    image: Annotated[
        Path | None, typer.Option(help="Image prompt: animate this still (image-to-video).")
    ] = None,
    image_at: Annotated[str, typer.Option(help="Where the --image goes: start or end.")] = "start",
    extend: Annotated[
        Path | None, typer.Option(help="Video prompt: continue this video (forward, or --backward).")
    ] = None,
    backward: Annotated[
        bool, typer.Option(help="With --extend: generate what came before the video.")
    ] = False,
    keyframe: Annotated[
        list[str] | None, typer.Option(help="FILE@SECONDS, repeatable: frames to hit; the rest is filled in.")
    ] = None,
    edit: Annotated[
        Path | None,
        typer.Option(help="Video prompt: re-render this video from the prompt, keeping its motion."),
    ] = None,
    strength: Annotated[float, typer.Option(help="With --edit: 0 keeps the input, 1 ignores it.")] = 0.6,
    loop: Annotated[bool, typer.Option(help="Make the last frame flow into the first.")] = False,
    visible_watermark: Annotated[bool, typer.Option(help="Also draw a small visible 'haneul' mark.")] = False,
    model: Annotated[
        Path | None, typer.Option(help="Model directory (haneul or diffusers); default the bundled model.")
    ] = None,
    device: Device = "cpu",
    dtype: Dtype = None,
    cpu_offload: CpuOffload = False,
    vae_tiling: VaeTiling = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    expand: Annotated[
        bool, typer.Option(help="Rewrite the prompt into the detailed caption the model was trained on.")
    ] = True,
    expander_url: ExpanderUrl = None,
    expander_model: ExpanderModel = "default",
) -> None:
    """Generate a video from a text prompt (and optionally an image or video prompt); write MP4 or PNG."""
    from haneul import modes
    from haneul.prompting.llm import configure_expander

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
        chosen = [
            name
            for name, v in [
                ("--image", image),
                ("--extend", extend),
                ("--keyframe", keyframe),
                ("--edit", edit),
                ("--loop", loop),
            ]
            if v
        ]
        if len(chosen) > 1:
            raise InputError(
                f"choose one of {', '.join(chosen)} per video (a storyboard combines them: haneul storyboard)"
            )
        if image_at not in ("start", "end"):
            raise InputError(f"--image-at {image_at!r} must be start or end", param="image_at")
        if backward and extend is None:
            raise InputError("--backward goes with --extend VIDEO", param="backward")
        inputs = {
            "image": read_media(image)[0] if image else None,
            "extend": read_media(extend) if extend else None,
            "edit": read_media(edit) if edit else None,
            "keyframes": [(read_media(p), t) for p, t in map(parse_keyframe, keyframe or [])],
        }
        pipe = load(model, device, dtype, cpu_offload, vae_tiling)
        configure_expander(pipe, expand, expander_url, expander_model)
        for what, frames in [
            ("image", inputs["image"]),
            ("video", inputs["extend"]),
            ("video", inputs["edit"]),
        ]:
            if frames is not None:
                tell_fit(frames, pipe, width, height, what)
        common = {
            "width": width,
            "height": height,
            "fps": fps,
            "num_steps": steps,
            "guidance": guidance,
            "seed": seed,
            "negative_prompt": negative_prompt,
            "sampler": sampler,
        }
        if autoguidance is not None:  # only models with a guide transformer take it
            common["autoguidance"] = autoguidance
        if contrast is not None:
            common["contrast"] = contrast
        timing = {"seconds": seconds, "num_frames": num_frames}
        with progress_bar("sampling", enabled=not quiet) as update:
            common["progress"] = update
            if inputs["image"] is not None:
                video = modes.image_to_video(
                    pipe, prompt, inputs["image"], at_end=image_at == "end", **timing, **common
                )
            elif inputs["extend"] is not None:
                video = modes.extend(
                    pipe, prompt, inputs["extend"], seconds=seconds or 2.0, backward=backward, **common
                )
            elif inputs["keyframes"]:
                video = modes.keyframes(
                    pipe, prompt, inputs["keyframes"], **{k: v for k, v in timing.items() if v}, **common
                )
            elif inputs["edit"] is not None:
                step = pipe.frame_step  # the longest 1 + step * k frames of the input
                edit_frames = num_frames or (1 + step * ((len(inputs["edit"]) - 1) // step))
                video = pipe.generate(
                    prompt, init_video=inputs["edit"], strength=strength, num_frames=edit_frames, **common
                )
            elif loop:
                video = modes.loop(pipe, prompt, **timing, **common)
            else:
                video = pipe.generate(prompt, **timing, **common)
        sources = [image, extend, edit, *(parse_keyframe(k)[0] for k in keyframe or [])]
        save_output(video, output, ingredients=sources, visible_watermark=visible_watermark)
    for warning in (video.metadata.get("expansion") or {}).get("warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"caption: {video.caption}", err=True)
    f, h, w = video.frames.shape[:3]
    typer.echo(f"wrote {output} ({w}x{h}, {f} frames at {video.fps:g} fps, seed {video.seed})")


def info(
    model: Annotated[
        Path | None, typer.Option(help="Model directory (haneul or diffusers); default the bundled model.")
    ] = None,
    device: Device = "cpu",
    dtype: Dtype = None,
) -> None:
    """Print the model card and what the model supports."""
    with user_errors():
        pipe = load(model, device, dtype)
        described = pipe.info()
    sizes = ", ".join(f"{w}x{h}" for w, h in described.sizes)
    fps = ", ".join(f"{f:g}" for f in described.fps)
    typer.echo(described.card.rstrip() or f"# {described.name}\n(no model card)")
    typer.echo("")
    typer.echo(f"model:      {described.name}")
    typer.echo(f"sizes:      {sizes} (native)")
    typer.echo(f"fps:        {fps}")
    typer.echo(f"max frames: {described.max_frames} per window")
    typer.echo(f"max length: {described.max_seconds:g} s")
    typer.echo(f"modes:      {', '.join(described.modes)}")


def join(
    first: Annotated[Path, typer.Argument(help="The clip that comes first.")],
    second: Annotated[Path, typer.Argument(help="The clip that comes after.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4.")],
    prompt: Annotated[str, typer.Option(help="What happens in the transition.")] = "a smooth transition",
    seconds: Annotated[float, typer.Option(help="Length of the generated transition.")] = 1.0,
    size: Annotated[
        str | None, typer.Option(help="WIDTHxHEIGHT; default the first clip's size if on the grid.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    steps: Annotated[int | None, typer.Option("--steps", "--num-steps", help="Sampling steps.")] = None,
    model: Annotated[Path | None, typer.Option(help="Model directory; default the bundled model.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Join two clips with a generated transition: FIRST + transition + SECOND."""
    from haneul import modes

    with user_errors():
        check_output_path(output)
        if output.suffix.lower() != ".mp4":
            raise InputError("join writes a video: the output must end in .mp4", param="output")
        width, height = parse_size(size)
        a, b = read_media(first), read_media(second)
        pipe = load(model)
        tell_fit(a, pipe, width, height, "first clip")
        with progress_bar("sampling", enabled=not quiet) as update:
            video = modes.join(
                pipe,
                prompt,
                a,
                b,
                seconds=seconds,
                width=width,
                height=height,
                seed=seed,
                num_steps=steps,
                progress=update,
            )
        save_output(video, output, ingredients=[first, second])
    typer.echo(f"wrote {output} ({len(video.frames)} frames at {video.fps:g} fps)")


def storyboard(
    board: Annotated[Path, typer.Argument(help="YAML: shots with prompt, seconds, optional image or video.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4.")],
    seed: Annotated[int, typer.Option(help="Random seed of the first shot (later shots add 1 each).")] = 0,
    model: Annotated[Path | None, typer.Option(help="Model directory; default the bundled model.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Render a storyboard as one continuous video; subjects and style carry from shot to shot.

    board.yaml:  size: 128x128   (optional)
                 shots:
                   - prompt: a red ball rolls right on green grass
                     seconds: 2
                   - prompt: the red ball bounces
                     seconds: 2
                     image: start.png   (optional; or video: clip.mp4)
    """
    from haneul import modes

    with user_errors():
        check_output_path(output)
        if output.suffix.lower() != ".mp4":
            raise InputError("a storyboard is a video: the output must end in .mp4", param="output")
        size, shots = read_board(board)
        width, height = parse_size(size)
        pipe = load(model)
        with progress_bar("sampling", enabled=not quiet) as update:
            video = modes.storyboard(pipe, shots, seed=seed, width=width, height=height, progress=update)
        save_output(video, output)
    typer.echo(f"wrote {output} ({len(shots)} shots, {len(video.frames)} frames at {video.fps:g} fps)")


def read_board(path: Path):
    import yaml

    from haneul.modes import Shot

    if not path.is_file():
        raise InputError(f"storyboard {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise InputError(f"storyboard {str(path)!r} is not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("shots"), list) or not data["shots"]:
        raise InputError(f"storyboard {str(path)!r} needs a non-empty 'shots:' list")
    shots = []
    for i, item in enumerate(data["shots"]):
        if not isinstance(item, dict) or not str(item.get("prompt", "")).strip():
            raise InputError(f"shot {i + 1} of {str(path)!r} needs a prompt")
        unknown = set(item) - {"prompt", "seconds", "image", "video", "seed"}
        if unknown:
            raise InputError(
                f"shot {i + 1}: unknown keys {sorted(unknown)}; valid: prompt, seconds, image, video, seed"
            )
        base = path.parent
        shots.append(
            Shot(
                prompt=str(item["prompt"]),
                seconds=float(item.get("seconds", 2.0)),
                image=read_media(base / item["image"])[0] if item.get("image") else None,
                video=read_media(base / item["video"]) if item.get("video") else None,
                seed=item.get("seed"),
            )
        )
    return data.get("size"), shots
