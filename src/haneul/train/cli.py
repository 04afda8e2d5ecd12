"""`haneul train vae|dit CONFIG [--set key=value ...] [--resume]`, `haneul train export RUN DEST` and
`haneul train average A B DEST --weight W`, `haneul train guide MODEL GUIDE DEST --weight W`.

The same command runs alone or under `torchrun --nproc_per_node=N` (DDP, or FSDP with
`--set strategy=fsdp`). The output directory is a loadable model directory plus `checkpoint/`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from haneul.errors import InputError

app = typer.Typer(help="Train the VAE or the diffusion transformer.", no_args_is_help=True)

ConfigArg = Annotated[
    Path,
    typer.Argument(help="YAML training config, e.g. configs/dit-world-s.yaml (or configs/vae-world-s.yaml)"),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config field: --set lr=1e-4 --set batch_size=4"),
]
ResumeOpt = Annotated[
    bool, typer.Option("--resume", help="Continue from OUT/checkpoint (step, LR, EMA, data)")
]


def run_training(kind: str, config_path: Path, overrides: list[str] | None, resume: bool) -> None:
    from haneul.generate_cli import user_errors

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with user_errors():
        if kind == "vae":
            from haneul.train.runs import train_vae

            summary = train_vae(config_path, overrides or [], resume)
        else:
            from haneul.train.runs import train_dit

            summary = train_dit(config_path, overrides or [], resume)
    if summary and os.environ.get("RANK", "0") == "0":
        typer.echo(" ".join(f"{k}={v}" for k, v in summary.items()))


@app.command("vae")
def vae(config: ConfigArg, set_: SetOpt = None, resume: ResumeOpt = False) -> None:
    """Train the causal video VAE; at the end its latent shift/scale is measured and saved."""
    run_training("vae", config, set_, resume)


@app.command("dit")
def dit(config: ConfigArg, set_: SetOpt = None, resume: ResumeOpt = False) -> None:
    """Train the diffusion transformer on latents of a trained VAE (`vae:` in the config)."""
    run_training("dit", config, set_, resume)


@app.command("card")
def card_benchmark(
    model: Annotated[Path, typer.Argument(help="A model directory whose README.md gets the scores")],
    results: Annotated[Path, typer.Argument(help="results.json written by `haneul eval world`")],
    command: Annotated[str, typer.Option(help="The eval command, quoted in the card")] = "",
) -> None:
    """Write world-benchmark scores (from `haneul eval world`) into a model card's benchmark section."""
    from haneul.generate_cli import user_errors
    from haneul.train.card import benchmark_section, write_card

    with user_errors():
        if not (model / "README.md").is_file() or not results.is_file():
            raise InputError(f"need {model}/README.md and {results}")
        name = (model / "README.md").read_text().splitlines()[0].lstrip("# ").strip()
        write_card(model, name, {"benchmark": benchmark_section(results, command)})
    typer.echo(f"updated {model / 'README.md'}")


@app.command("export")
def export(
    run: Annotated[Path, typer.Argument(help="A training output directory")],
    dest: Annotated[Path, typer.Argument(help="Where to write the model directory (replaced)")],
    dtype: Annotated[str, typer.Option(help="Weight dtype: bf16 (small) or fp32")] = "bf16",
) -> None:
    """Copy a run's model (haneul.json, README.md, vae/, dit/) without its checkpoint, weights as DTYPE."""
    from haneul.generate_cli import user_errors

    with user_errors():
        export_model(run, dest, dtype)
    typer.echo(f"wrote {dest}")


def publish_model_dir(tmp: Path, dest: Path) -> None:
    """Make the finished folder `tmp` the model directory `dest` in one step (what export and average end with)."""
    from haneul.train.checkpoint import fsync_tree
    from haneul.weights import replace_dir_atomic

    for path in [tmp, *tmp.rglob("*")]:  # temp files are created 0600; a package is read by everyone
        path.chmod(0o755 if path.is_dir() else 0o644)
    fsync_tree(tmp)
    replace_dir_atomic(tmp, dest)


def export_model(run: Path, dest: Path, dtype: str = "bf16") -> None:
    from safetensors.torch import load_file, save_file

    from haneul.weights import DTYPES, MODEL_FILE

    if dtype not in DTYPES:
        raise InputError(f"dtype {dtype!r} is not one of {sorted(DTYPES)}")
    for part in (MODEL_FILE, "README.md", "vae/model.safetensors", "dit/model.safetensors"):
        if not (run / part).is_file():
            raise InputError(f"{str(run)!r} is not a finished model directory: missing {part}")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (MODEL_FILE, "README.md"):
        shutil.copy2(run / name, tmp / name)
    for sub in ("vae", "dit"):
        (tmp / sub).mkdir()
        shutil.copy2(run / sub / "config.json", tmp / sub / "config.json")
        state = {
            k: v.to(DTYPES[dtype]).contiguous() for k, v in load_file(run / sub / "model.safetensors").items()
        }
        save_file(state, tmp / sub / "model.safetensors", metadata={"dtype": dtype})
    publish_model_dir(tmp, dest)


@app.command("average")
def average(
    first: Annotated[Path, typer.Argument(help="A model directory (its files are the result's, but dit/)")],
    second: Annotated[Path, typer.Argument(help="A model fine-tuned from FIRST (same VAE and network)")],
    dest: Annotated[Path, typer.Argument(help="Where to write the averaged model (replaced)")],
    weight: Annotated[float, typer.Option(help="SECOND's share of the transformer's weights, 0 to 1")] = 0.5,
) -> None:
    """Average two transformers: (1 - WEIGHT) x FIRST's + WEIGHT x SECOND's weights, everything else FIRST's.

    Why: a fine-tune and the model it started from lie in one basin, and a point between them can score
    better than either (weight averaging, Wortsman et al. 2022, "model soups"); docs/training.md.
    """
    from haneul.generate_cli import user_errors

    with user_errors():
        average_models(first, second, dest, weight)
    typer.echo(f"wrote {dest}")


@app.command("guide")
def guide(
    model: Annotated[Path, typer.Argument(help="A model directory (its files are the result's)")],
    guide_model: Annotated[
        Path, typer.Argument(help="A weaker model of the same task on the same VAE (an earlier one, say)")
    ],
    dest: Annotated[Path, typer.Argument(help="Where to write the guided model (replaced)")],
    weight: Annotated[float, typer.Option(help="Autoguidance weight written to haneul.json (1: off)")] = 2.0,
    guidance: Annotated[
        float, typer.Option(help="Classifier-free guidance scale written to haneul.json (1: off)")
    ] = 1.0,
) -> None:
    """MODEL with GUIDE_MODEL's transformer as its guide (guide/): sampling steers away from the guide's
    velocity by WEIGHT (autoguidance, Karras et al. 2024; haneul.guidance, docs/training.md)."""
    from haneul.generate_cli import user_errors

    with user_errors():
        add_guide(model, guide_model, dest, weight, guidance)
    typer.echo(f"wrote {dest}")


def add_guide(model: Path, guide_model: Path, dest: Path, weight: float, guidance: float) -> None:
    from haneul.weights import MODEL_FILE

    for name, value in (("weight", weight), ("guidance", guidance)):
        if not 0.0 <= value <= 30.0:
            raise InputError(f"--{name} {value:g} must be from 0 to 30", param=name)
    for path in (model, guide_model):
        for part in (
            MODEL_FILE,
            "vae/config.json",
            "vae/model.safetensors",
            "dit/config.json",
            "dit/model.safetensors",
        ):
            if not (path / part).is_file():
                raise InputError(f"{str(path)!r} is not a model directory: missing {part}")
    # The guide predicts velocities of the same latents from the same text features: the same encoder and
    # latent scaling (a decoder fine-tuned since, with the encoder frozen, does not matter).
    if not same_latents(model, guide_model):
        raise InputError(
            f"{guide_model} has another VAE encoder than {model}: a guide must share its latents"
        )
    spec, guide_spec = (json.loads((p / MODEL_FILE).read_text()) for p in (model, guide_model))
    dit, guide_dit = (json.loads((p / "dit/config.json").read_text()) for p in (model, guide_model))
    for key, a, b in (
        ("text_encoder", spec.get("text_encoder"), guide_spec.get("text_encoder")),
        ("in_channels", dit["in_channels"], guide_dit["in_channels"]),
        ("text_dim", dit["text_dim"], guide_dit["text_dim"]),
    ):
        if a != b:
            raise InputError(f"{guide_model} cannot guide {model}: {key} {b!r} is not {a!r}")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model, tmp, ignore=shutil.ignore_patterns("checkpoint", "samples", "guide"))
    shutil.copytree(guide_model / "dit", tmp / "guide")
    spec.update(autoguidance=weight, guidance=guidance)
    (tmp / MODEL_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    publish_model_dir(tmp, dest)


def same_latents(a: Path, b: Path) -> bool:
    """Whether two model directories' VAEs make the same latents: config, and every weight but the decoder's."""
    from safetensors.torch import load_file

    if json.loads((a / "vae/config.json").read_text()) != json.loads((b / "vae/config.json").read_text()):
        return False
    wa, wb = (load_file(m / "vae/model.safetensors") for m in (a, b))
    encoder = {k for k in wa if not k.startswith("decoder.")}
    return encoder == {k for k in wb if not k.startswith("decoder.")} and all(
        wa[k].shape == wb[k].shape and bool((wa[k] == wb[k]).all()) for k in encoder
    )


def average_models(first: Path, second: Path, dest: Path, weight: float) -> None:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from haneul.weights import MODEL_FILE

    if not 0.0 <= weight <= 1.0:
        raise InputError(f"--weight {weight:g} must be from 0 to 1", param="weight")
    parts = (
        MODEL_FILE,
        "vae/config.json",
        "vae/model.safetensors",
        "dit/config.json",
        "dit/model.safetensors",
    )
    for model in (first, second):
        for part in parts:
            if not (model / part).is_file():
                raise InputError(f"{str(model)!r} is not a model directory: missing {part}")
    for part in parts[:-1]:  # only the transformer's weights may differ
        if (first / part).read_bytes() != (second / part).read_bytes():
            raise InputError(f"{first} and {second} differ in {part}: only the transformer's weights may")
    a = load_file(first / "dit" / "model.safetensors")
    b = load_file(second / "dit" / "model.safetensors")
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise InputError(f"{first} and {second} hold different transformer weights (names or shapes)")
    # in fp32, stored back in the weights' own dtype
    mixed = {k: torch.lerp(v.float(), b[k].float(), weight).to(v.dtype) for k, v in a.items()}
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(first, tmp, ignore=shutil.ignore_patterns("checkpoint", "samples"))
    with safe_open(first / "dit" / "model.safetensors", "pt") as f:  # its dtype label, as export wrote it
        metadata = f.metadata()
    save_file(mixed, tmp / "dit" / "model.safetensors", metadata=metadata)
    publish_model_dir(tmp, dest)
