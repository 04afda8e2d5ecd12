"""The training loop shared by the VAE and the transformer: one `Task` says what a step computes.

What the loop owns: processes (torchrun -> DDP or FSDP, gloo on CPU, NCCL on GPU), bf16 autocast, AdamW
with warmup + cosine LR, gradient clipping, the EMA of the weights, atomic checkpoints and `--resume`,
the rich progress bar (loss, tokens/s, ETA), the JSONL metrics log, and the periodic hooks (samples,
benchmark) a task may offer. What a task owns: the model, the loss of a batch, and how to export the
model directory.

Determinism: the data and every random draw of a step are functions of (seed, step, sample index), so a
resumed run reproduces the uninterrupted one, and N processes reproduce one process with the same global
batch (each process computes the mean loss of its equal share; DDP averages the gradients).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.distributed as dist
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from haneul.train.checkpoint import clean_stale_tmp, load_checkpoint, save_checkpoint
from haneul.train.config import TrainConfig, config_dict
from haneul.train.data import Batch, make_data

log = logging.getLogger("haneul.train")
CHECKPOINT = "checkpoint"
LOG_FILE = "train_log.jsonl"
PEAK_BF16_FLOPS = 0.92e12  # 2048^2 bf16 matmul measured on this CPU (COMMON notes); MFU denominator


class Task(Protocol):
    model: nn.Module  # what the optimizer trains
    temporal_factor: int  # the VAE's time compression: batch sizes follow latent frames

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, float], int]:
        """(loss to backpropagate, named parts for the log, tokens processed) for this process's batch."""

    def export(self, ema: nn.Module, out: Path, info: dict) -> None:
        """Write the loadable model directory (EMA weights) into `out` (rank 0 only)."""


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    """Join the process group torchrun set up (env RANK/WORLD_SIZE), or run alone."""
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return Dist(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank, device)


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warmup, then cosine from lr down to lr * min_lr_ratio at the last step."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, norms and other vectors (the usual GPT/DiT split)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=tuple(config.betas), foreach=True)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    # Warm-started decay (as in many EMA implementations): early on the EMA follows the weights closely,
    # so a short run's EMA is not dominated by the random initialisation.
    d = min(decay, (1 + step) / (10 + step))
    ema_params = [p for p in ema.parameters()]
    params = [full_tensor(p).detach().float() for p in model.parameters()]
    torch._foreach_lerp_(ema_params, params, 1 - d)


def full_tensor(p: Tensor) -> Tensor:
    """A DTensor (FSDP shard) gathered to the full tensor; a plain tensor as is."""
    return p.full_tensor() if hasattr(p, "full_tensor") else p


def autocast(config: TrainConfig, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16)


def wrap_model(model: nn.Module, config: TrainConfig, d: Dist) -> nn.Module:
    """DDP or FSDP under torchrun; the model itself when alone."""
    if d.world_size == 1:
        return model
    if config.strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in getattr(model, "blocks", []):  # shard per transformer block, then the rest
            fully_shard(block)
        return fully_shard(model)
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [d.local_rank] if d.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def full_state_dict(model: nn.Module, config: TrainConfig, d: Dist) -> dict:
    if d.world_size > 1 and config.strategy == "fsdp":
        return {k: full_tensor(v) for k, v in model.state_dict().items()}
    return model.state_dict()


def optimizer_state(optimizer: torch.optim.Optimizer, model: nn.Module, config: TrainConfig, d: Dist) -> dict:
    if d.world_size > 1 and config.strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True))
    return optimizer.state_dict()


def load_optimizer_state(optimizer, model, state: dict, config: TrainConfig, d: Dist) -> None:
    if d.world_size > 1 and config.strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))
    else:
        optimizer.load_state_dict(state)


class MetricsLog:
    """Appends one JSON object per line to OUT/train_log.jsonl (rank 0)."""

    def __init__(self, path: Path, enabled: bool):
        self.path = path
        self.enabled = enabled

    def write(self, **record) -> None:
        if not self.enabled:
            return
        record.setdefault("time", time.time())
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


Hook = Callable[[nn.Module, int, Path], str]  # (ema model, step, out dir) -> a line for the log


class Trainer:
    """Runs a task's steps with everything listed in the module docstring."""

    def __init__(self, config: TrainConfig, task_factory: Callable[[TrainConfig, Dist], Task], resume: bool):
        self.config = config
        self.d = setup_distributed()
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        torch.manual_seed(config.seed)
        self.out = Path(config.out)
        if self.d.main:
            self.out.mkdir(parents=True, exist_ok=True)
            clean_stale_tmp(self.out, CHECKPOINT)
        self.console = Console(stderr=True, quiet=not self.d.main)
        self.task = task_factory(config, self.d)
        self.data = make_data(config, self.task.temporal_factor, self.d.world_size)
        model = self.task.model.to(self.d.device)
        self.ema = copy.deepcopy(model).requires_grad_(False).float()
        self.model = wrap_model(model, config, self.d)
        self.optimizer = make_optimizer(self.model, config)
        self.step = 0
        self.wall_before = 0.0  # seconds of training in earlier runs of this model (resumed)
        self.tokens_before = 0
        self.metrics = MetricsLog(self.out / LOG_FILE, self.d.main)
        self.hooks: list[tuple[int, str, Hook]] = []
        if resume:
            self.resume()

    def add_hook(self, every: int, name: str, hook: Hook) -> None:
        if every > 0:
            self.hooks.append((every, name, hook))

    def resume(self) -> None:
        ckpt = load_checkpoint(self.out / CHECKPOINT)
        inner = self.task.model
        if self.d.world_size > 1 and self.config.strategy == "fsdp":
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

            set_model_state_dict(self.model, ckpt["model"], options=StateDictOptions(full_state_dict=True))
        else:
            inner.load_state_dict(ckpt["model"])
        self.ema.load_state_dict(ckpt["ema"])
        load_optimizer_state(self.optimizer, self.model, ckpt["optimizer"], self.config, self.d)
        torch.set_rng_state(ckpt["rng"]["torch"])
        state = ckpt["state"]
        self.step = int(state["step"])
        self.wall_before = float(state.get("wall_seconds", 0.0))
        self.tokens_before = int(state.get("tokens", 0))
        self.data.skipped = int(state.get("skipped_files", 0))
        if hasattr(self.task, "load_extra_state") and "extra" in ckpt["optimizer"]:
            self.task.load_extra_state(ckpt["optimizer"]["extra"])
        self.metrics.write(event="resume", step=self.step, checkpoint=str(ckpt["path"]))
        self.console.print(f"resumed from {ckpt['path']} at step {self.step}")

    def save(self, wall: float, tokens: int) -> None:
        model_state = full_state_dict(self.model, self.config, self.d)
        opt_state = optimizer_state(self.optimizer, self.model, self.config, self.d)
        if not self.d.main:
            return
        model_state = {k.removeprefix("module."): v for k, v in model_state.items()}
        if hasattr(self.task, "extra_state"):
            opt_state = {**opt_state, "extra": self.task.extra_state()}
        state = {
            "step": self.step,
            "wall_seconds": wall,
            "tokens": tokens,
            "skipped_files": self.data.skipped,
            "config": config_dict(self.config),
            "world_size": self.d.world_size,
        }
        self.metrics.write(event="saving", step=self.step)
        save_checkpoint(self.out / CHECKPOINT, model_state, self.ema.state_dict(), opt_state, state)
        self.task.export(self.ema, self.out, self.info(wall, tokens))
        self.metrics.write(event="checkpoint", step=self.step, wall_seconds=round(wall, 1))

    def info(self, wall: float, tokens: int) -> dict:
        return {
            "step": self.step,
            "wall_seconds": wall,
            "tokens": tokens,
            "skipped_files": self.data.skipped,
            "command": " ".join(["haneul", *sys.argv[1:]]) if sys.argv else "",
            "world_size": self.d.world_size,
            "data": self.data.describe(),
        }

    @torch.no_grad()
    def measure_flops(self, batch: Batch) -> float:
        """Training FLOPs per token: a counted forward (torch's FlopCounterMode) times 3 for the backward.

        Counted on a separate no-grad pass because the counting mode changes kernel choices, and a
        counted training step would no longer match an uncounted one bit for bit (resume, DDP tests).
        """
        if hasattr(self.task, "prepare"):
            self.task.prepare(batch)
        with FlopCounterMode(display=False) as counter, autocast(self.config, self.d.device):
            _, _, tokens = self.task.loss(self.model, batch, self.step)
        return 3 * counter.get_total_flops() / max(tokens, 1)

    def train_step(self, batch: Batch) -> tuple[dict[str, float], int, float]:
        lr = lr_at(self.step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast(self.config, self.d.device):
            loss, parts, tokens = self.task.loss(self.model, batch, self.step)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        update_ema(self.ema, self.model, self.config.ema_decay, self.step)
        parts = {"loss": float(loss.detach()), **parts}
        if self.d.world_size > 1:  # log the global mean, not rank 0's share
            values = torch.tensor(list(parts.values()), dtype=torch.float64)
            dist.all_reduce(values)
            parts = dict(zip(parts, (values / self.d.world_size).tolist(), strict=True))
            tokens_t = torch.tensor([tokens])
            dist.all_reduce(tokens_t)
            tokens = int(tokens_t)
        return parts, tokens, float(full_tensor(grad_norm))

    def run(self) -> dict:
        config = self.config
        start_step, start = self.step, time.perf_counter()
        last_save = start
        tokens_total = self.tokens_before
        window_tokens, window_start = 0, time.perf_counter()
        parts: dict[str, float] = {}
        fpt = 0.0
        self.metrics.write(
            event="start", step=self.step, world_size=self.d.world_size, data=self.data.describe()
        )
        stopped_early = False
        with progress_bar(self.console) as bar:
            job = bar.add_task(Path(config.out).name, total=config.steps, completed=self.step, status="")
            while self.step < config.steps:
                batch = self.data.batch(self.step, self.d.rank)
                if self.step == start_step:
                    fpt = self.measure_flops(batch)
                parts, tokens, grad_norm = self.train_step(batch)
                self.step += 1
                tokens_total += tokens
                window_tokens += tokens
                elapsed = time.perf_counter() - window_start
                wall = self.wall_before + time.perf_counter() - start
                if self.step % config.log_every == 0 or self.step == config.steps:
                    tok_s = window_tokens / max(elapsed, 1e-9)
                    self.metrics.write(
                        step=self.step,
                        lr=lr_at(self.step - 1, config),
                        grad_norm=round(grad_norm, 4),
                        tokens_per_s=round(tok_s, 1),
                        mfu=round(tok_s * fpt / PEAK_BF16_FLOPS, 4),
                        flops_per_token=round(fpt),
                        bucket=[batch.bucket.width, batch.bucket.height, batch.bucket.frames],
                        batch=batch.global_size,
                        wall_seconds=round(wall, 1),
                        skipped_files=self.data.skipped,
                        **{k: round(v, 5) for k, v in parts.items()},
                    )
                    window_tokens, window_start = 0, time.perf_counter()
                    status = f"loss {parts['loss']:.4f}  {tok_s:,.0f} tok/s"
                    if self.data.skipped:
                        status += f"  skipped {self.data.skipped} files"
                    bar.update(job, completed=self.step, status=status)
                else:
                    bar.update(job, completed=self.step)
                minutes_up = (time.perf_counter() - start) / 60
                out_of_time = config.max_minutes and minutes_up >= config.max_minutes
                due = self.step % config.save_every == 0 or (
                    config.save_every_minutes
                    and time.perf_counter() - last_save >= 60 * config.save_every_minutes
                )
                due, out_of_time = self.agree(bool(due), bool(out_of_time))
                if due or out_of_time or self.step == config.steps:
                    self.save(wall, tokens_total)
                    last_save = time.perf_counter()
                self.run_hooks()
                if out_of_time:
                    stopped_early = self.step < config.steps
                    break
        wall = self.wall_before + time.perf_counter() - start
        summary = {
            "event": "end",
            "step": self.step,
            "steps_this_run": self.step - start_step,
            "wall_seconds": round(wall, 1),
            "tokens": tokens_total,
            "stopped_early": bool(stopped_early),
            "skipped_files": self.data.skipped,
            **{k: round(v, 5) for k, v in parts.items()},
        }
        if self.d.world_size > 1:
            summary["rank_weight_sums"] = self.rank_weight_sums()
        self.metrics.write(**summary)
        return summary

    @torch.no_grad()
    def rank_weight_sums(self) -> list[float]:
        """Each process's sum of its full weights (float64): equal across ranks when they are in sync."""
        total = torch.zeros((), dtype=torch.float64)
        for p in self.model.parameters():
            total += full_tensor(p).double().sum().cpu()
        sums = [torch.zeros((), dtype=torch.float64) for _ in range(self.d.world_size)]
        dist.all_gather(sums, total)
        return [float(x) for x in sums]

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        """Time-based decisions made by rank 0 for all: every process must save and stop together."""
        if self.d.world_size == 1:
            return flags
        values = torch.tensor([int(f) for f in flags])
        dist.broadcast(values, src=0)
        return tuple(bool(v) for v in values)

    def run_hooks(self) -> None:
        for every, name, hook in self.hooks:
            if self.step % every or not self.d.main:
                continue
            try:
                message = hook(self.ema, self.step, self.out)
            except Exception as e:  # a failing sample or benchmark must not end a long run
                message = f"failed: {type(e).__name__}: {e}"
            self.metrics.write(event=name, step=self.step, message=message)
            self.console.print(f"step {self.step} {name}: {message}")
