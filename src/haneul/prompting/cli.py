"""`haneul expand PROMPT` and `haneul caption DIR`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from haneul.errors import InputError

app = typer.Typer()

ExpanderUrl = Annotated[
    str | None,
    typer.Option(
        envvar="HANEUL_EXPANDER_URL",
        help="OpenAI-compatible chat endpoint (llama.cpp, vLLM, Ollama) that expands prompts; "
        "API key from HANEUL_EXPANDER_API_KEY or OPENAI_API_KEY.",
    ),
]
ExpanderModel = Annotated[
    str, typer.Option(envvar="HANEUL_EXPANDER_MODEL", help="Model name the chat endpoint serves.")
]


def warn(lines: list[str]) -> None:
    for line in lines:
        typer.echo(f"warning: {line}", err=True)


def read_model(model: Path | None) -> tuple[object | None, str, int]:
    """(built-in expander, card, the VAE's time compression) of a model directory, from haneul.json, README.md
    and vae/config.json (no weights loaded)."""
    from haneul import DEFAULT_MODEL_DIR
    from haneul.prompting.expand import WorldExpander, builtin_expander
    from haneul.weights import MODEL_FILE

    if model is None:  # the bundled model: trained on the world
        return WorldExpander(), "", temporal_factor(DEFAULT_MODEL_DIR)
    path = Path(model)
    if not (path / MODEL_FILE).is_file():
        raise InputError(f"{str(path)!r} has no {MODEL_FILE}; pass a haneul model directory", param="model")
    try:
        data = json.loads((path / MODEL_FILE).read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"{path / MODEL_FILE}: {e}", param="model") from e
    card = (path / "README.md").read_text() if (path / "README.md").is_file() else ""
    return builtin_expander(str(data.get("expander") or "")), card, temporal_factor(path)


def temporal_factor(model_dir: Path) -> int:
    """Frames per latent frame of the model's VAE: `generate` makes 1 + k times that many frames, and the
    caption must describe the same frames."""
    config = model_dir / "vae" / "config.json"
    try:
        return int(json.loads(config.read_text()).get("temporal_factor", 4))
    except (OSError, ValueError) as e:
        raise InputError(f"{config}: cannot read the VAE's config ({e})", param="model") from e


@app.command()
def expand(
    prompt: Annotated[str, typer.Argument(help="A short prompt (English or Korean).")],
    seed: Annotated[int, typer.Option(help="The same seed fills the open choices the same way.")] = 0,
    size: Annotated[str, typer.Option(help="WIDTHxHEIGHT of the video the caption is for.")] = "128x128",
    seconds: Annotated[float, typer.Option(help="Duration of the video the caption is for.")] = 2.0,
    fps: Annotated[float, typer.Option(help="Frames per second of that video.")] = 8.0,
    model: Annotated[
        Path | None, typer.Option(help="Model directory: its haneul.json picks the built-in expander.")
    ] = None,
    expander_url: ExpanderUrl = None,
    expander_model: ExpanderModel = "default",
    timeout: Annotated[float, typer.Option(help="Seconds per attempt at the chat endpoint.")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole expansion as JSON.")] = False,
) -> None:
    """Expand a short prompt into the detailed caption the model was trained on (what `generate` feeds it)."""
    from haneul.generate_cli import parse_size, user_errors
    from haneul.prompting.expand import expand_prompt, fallback
    from haneul.prompting.llm import ChatExpander

    with user_errors():
        width, height = parse_size(size)
        if not seconds > 0 or not fps > 0:
            raise InputError(f"--seconds {seconds:g} and --fps {fps:g} must be positive", param="seconds")
        builtin, card, tf = read_model(model)
        num_frames = 1 + tf * math.ceil(round(seconds * fps, 6) / tf)  # as `generate` rounds for this model
        expander = builtin
        if expander_url:
            expander = ChatExpander(
                expander_url, expander_model, card=card, fallback=builtin, timeout=timeout
            )
        if expander is None:
            result = fallback(prompt, "this model has no built-in expander; the prompt is used as is")
        else:
            result = expand_prompt(
                prompt, seed, expander, width=width, height=height, num_frames=num_frames, fps=fps
            )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    warn(result.warnings)
    typer.echo(result.caption)


@app.command()
def caption(
    folder: Annotated[Path, typer.Argument(help="Folder of videos and images (searched recursively).")],
    endpoint: Annotated[
        str,
        typer.Option(
            envvar="HANEUL_CAPTION_URL",
            help="OpenAI-compatible chat endpoint of a vision model (llama.cpp, vLLM).",
        ),
    ],
    model: Annotated[str, typer.Option(help="Model name the endpoint serves.")] = "default",
    out: Annotated[
        Path | None, typer.Option(help="Output JSONL; default DIR/metadata.jsonl (what haneul train reads).")
    ] = None,
    frames: Annotated[int, typer.Option(help="Frames shown per video, evenly spread.")] = 4,
    timeout: Annotated[float, typer.Option(help="Seconds per request attempt.")] = 120.0,
    retries: Annotated[int, typer.Option(help="Extra attempts when the endpoint errs or times out.")] = 2,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Caption your videos and images for training with a vision chat model; appends to metadata.jsonl.

    Files already listed in the output are skipped, so an interrupted run can be started again.
    API key from HANEUL_EXPANDER_API_KEY or OPENAI_API_KEY.
    """
    from haneul.generate_cli import progress_bar, user_errors
    from haneul.prompting.captioner import caption_folder

    with user_errors(), progress_bar("captioning", enabled=not quiet) as update:
        report = caption_folder(
            folder, endpoint, model, out, num_frames=frames, timeout=timeout, retries=retries, progress=update
        )
    if report.skipped:
        warn([f"skipped {len(report.skipped)} file(s) that could not be captioned:"])
        for file, reason in report.skipped[:20]:
            typer.echo(f"  {file}: {reason}", err=True)
    already = f" ({report.already} already listed)" if report.already else ""
    typer.echo(f"wrote {report.written} caption(s) to {report.out}{already}")
