"""The two training runs as Python functions (the CLI calls these): config in, trained model directory out."""

from __future__ import annotations

from pathlib import Path

from haneul.train.config import DiTTrainConfig, VAETrainConfig, load_config
from haneul.train.loop import Trainer


def train_vae(config_path: Path | None, overrides: list[str], resume: bool = False) -> dict:
    from haneul.train.vae_task import VAETask

    config = load_config(VAETrainConfig, config_path, overrides)
    trainer = Trainer(config, VAETask, resume)
    summary = trainer.run()
    if trainer.d.main:  # finished or out of time: either way the exported VAE gets its latent statistics
        stats = trainer.task.finish(
            trainer.ema, trainer.out, trainer.info(summary["wall_seconds"], summary["tokens"])
        )
        trainer.metrics.write(event="latent_stats", **stats)
        summary.update({"latent_shift": round(stats["shift"], 4), "latent_scale": round(stats["scale"], 4)})
    return summary


def train_dit(config_path: Path | None, overrides: list[str], resume: bool = False) -> dict:
    from haneul.train.dit_task import DiTTask, add_hooks

    config = load_config(DiTTrainConfig, config_path, overrides)
    trainer = Trainer(config, DiTTask, resume)
    add_hooks(trainer)
    return trainer.run()
