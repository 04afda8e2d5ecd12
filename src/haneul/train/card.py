"""What a training run writes next to the weights: haneul.json (what the model is) and README.md (its card).

The card is regenerated at every checkpoint from the run's own numbers (steps, wall time, tokens, data,
the exact command), so the card of a model directory always describes the weights beside it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from haneul.train.config import TrainConfig
from haneul.weights import MODEL_FILE, write_json_atomic

MODES = ["text", "image", "extend", "keyframes", "edit", "loop", "join"]


def write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def model_spec(config: TrainConfig, **defaults) -> dict:
    """haneul.json for a model trained with this config (keys of haneul.pipeline.ModelSpec)."""
    spec = {
        "name": config.name,
        "text_encoder": getattr(config, "text_encoder", "all-minilm-l6-v2"),
        "sizes": [list(map(int, s)) for s in config.sizes],
        "fps": [float(config.fps)],
        "max_frames": int(max(config.frame_counts)),
        "modes": MODES,
        "default_seconds": 2.0,
        # Trained on the world's detailed captions: generation expands short prompts into that style.
        "expander": "world" if config.data == "world" else "",
    }
    spec.update(defaults)
    return spec


def write_spec(out: Path, spec: dict) -> None:
    """Merge into an existing haneul.json (a VAE run and a transformer run both write to it)."""
    path = out / MODEL_FILE
    old = json.loads(path.read_text()) if path.is_file() else {}
    write_json_atomic(path, {**old, **spec})


def fmt_hours(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def training_section(title: str, info: dict, config: TrainConfig, extra: list[str] = ()) -> str:
    lines = [
        f"## {title}",
        "",
        f"- command: `{info.get('command', '')}`",
        f"- steps: {info['step']} of {config.steps} planned; wall time {fmt_hours(info['wall_seconds'])} "
        f"on {info.get('world_size', 1)} process(es)",
        f"- tokens seen: {info.get('tokens', 0):,}",
        f"- data: {info.get('data', config.data)}; skipped unreadable files: {info.get('skipped_files', 0)}",
        f"- sizes (width x height): {', '.join(f'{w}x{h}' for w, h in config.sizes)}; frames per clip: "
        f"{', '.join(str(f) for f in config.frame_counts)} at {config.fps:g} fps",
        f"- batch {config.batch_size} clips (largest bucket), lr {config.lr:g} (warmup {config.warmup_steps}, "
        f"cosine to x{config.min_lr_ratio:g}), EMA {config.ema_decay}, bf16 autocast {config.bf16}",
        *extra,
        "",
    ]
    return "\n".join(lines)


def write_card(out: Path, name: str, sections: dict[str, str]) -> None:
    """README.md = a title plus named sections; each run replaces only its own section."""
    path = out / "README.md"
    old = path.read_text() if path.is_file() else ""
    kept = {}
    for chunk in old.split("\n<!-- section: ")[1:]:
        key, _, body = chunk.partition(" -->\n")
        kept[key] = body.rstrip("\n")
    kept.update({k: v.rstrip("\n") for k, v in sections.items()})
    order = ["about", "vae", "dit", "benchmark"]
    keys = [k for k in order if k in kept] + [k for k in kept if k not in order]
    text = f"# {name}\n" + "".join(f"\n<!-- section: {k} -->\n{kept[k]}\n" for k in keys)
    write_text_atomic(path, text)


TARGETS = {"colour": 0.90, "kind": 0.80, "direction": 0.80, "count": 0.80, "temporal": 0.90}


def benchmark_section(results: Path, command: str = "") -> str:
    """A markdown table of `haneul eval world` means, with the targets of the training issue."""
    data = json.loads(Path(results).read_text())
    lines = ["## World benchmark", ""]
    if command:
        lines += [f"`{command}`", ""]
    lines += ["| dimension | score | videos | target |", "|---|---|---|---|"]
    for dim, v in data["summary"].items():
        score = "-" if v["mean"] is None else f"{v['mean']:.3f}"
        target = next((f">= {t:.2f}" for key, t in TARGETS.items() if dim.startswith(key)), "")
        lines.append(f"| {dim} | {score} | {v['n']} | {target} |")
    return "\n".join(lines) + "\n"
