"""`haneul serve` (the Videos API plus local workers) and `haneul worker` (a generation worker)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import typer

from haneul.errors import InputError

app = typer.Typer()

DATA_DIR = typer.Option(Path("haneul-serve"), "--data-dir", help="Job files and the default SQLite database.")
DB = typer.Option(
    "",
    "--db",
    envvar="HANEUL_DB",
    help="SQLAlchemy URL, e.g. postgresql://user@host/db (default: SQLite in --data-dir).",
)
MODELS = typer.Option(
    [],
    "--model",
    help="API model name = local model dir, e.g. sora-2=./my-model (repeatable). Without it, sora-2 and "
    "sora-2-pro both serve the bundled model; with it, exactly the names given are served.",
)
NUM_STEPS = typer.Option(None, "--num-steps", help="Sampling steps per video (default: the model's).")
STALE_AFTER = typer.Option(
    30.0,
    "--stale-after",
    help="Seconds without a heartbeat after which a job's worker is taken for dead and the job re-queued.",
)

EXPANDER_URL = typer.Option(
    "",
    "--expander-url",
    envvar="HANEUL_EXPANDER_URL",
    help="OpenAI-compatible chat endpoint (llama.cpp, vLLM, Ollama) that expands prompts into captions; "
    "API key from HANEUL_EXPANDER_API_KEY or OPENAI_API_KEY. Default: each model's own expander.",
)
EXPANDER_MODEL = typer.Option(
    "default", "--expander-model", envvar="HANEUL_EXPANDER_MODEL", help="Model name the chat endpoint serves."
)

KEYS_FILE = typer.Option(
    None, "--api-keys-file", help="One key per line (`key` or `name=key`); also $HANEUL_API_KEYS."
)


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; 0.0.0.0 exposes the API to the network."),
    port: int = typer.Option(8000, help="TCP port."),
    data_dir: Path = DATA_DIR,
    db: str = DB,
    model: list[str] = MODELS,
    api_keys_file: Path = KEYS_FILE,
    workers: int = typer.Option(
        1, help="Local worker processes to start (0: API only; run `haneul worker` elsewhere)."
    ),
    num_steps: int = NUM_STEPS,
    rate_limit: int = typer.Option(600, help="Requests per minute per API key."),
    max_active_jobs: int = typer.Option(16, help="Queued + running videos per API key."),
    max_upload_mb: float = typer.Option(50.0, help="Largest accepted upload."),
    max_seconds: int = typer.Option(20, help="Longest video (or extension) a request may ask for."),
    poll_after_ms: int = typer.Option(
        1000, help="The openai-poll-after-ms header sent while a video is unfinished."
    ),
    stale_after: float = STALE_AFTER,
    expander_url: str = EXPANDER_URL,
    expander_model: str = EXPANDER_MODEL,
) -> None:
    """Serve the OpenAI-compatible Videos API and the web page, with local generation workers."""
    import uvicorn

    from haneul.serve.api import create_app
    from haneul.serve.config import ServeConfig, load_keys
    from haneul.serve.models import load_served_models, parse_model_map
    from haneul.serve.store import JobStore

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        keys, generated = load_keys(api_keys_file, data_dir)
        config = ServeConfig(
            data_dir=data_dir, db_url=db, models=parse_model_map(model), api_keys=keys, rate_limit=rate_limit,
            max_active_jobs=max_active_jobs, max_upload_mb=max_upload_mb, max_seconds=max_seconds,
            poll_after_ms=poll_after_ms,
        )  # fmt: skip
        served = load_served_models(config.models)
        store = JobStore(config.db_url, stale_after=stale_after)
    except InputError as e:
        fail(str(e))
    worker_args = _worker_args(data_dir, config.db_url, model, num_steps, stale_after)
    worker_args += ["--threads", str(max(1, (os.cpu_count() or 1) // max(1, workers)))]
    worker_args += ["--expander-url", expander_url, "--expander-model", expander_model]
    supervisor = WorkerSupervisor(worker_args, workers)
    supervisor.start()
    url = f"http://{host}:{port}/"
    typer.echo(f"haneul serve: {url} (API at {url}v1, {workers} local worker(s), jobs in {config.db_url})")
    if generated:
        typer.echo(f"API key (generated, kept in {data_dir / 'api_key.txt'}): {generated}")
        typer.echo(f"web page: {url}#key={generated}")
    try:
        uvicorn.run(
            create_app(config, served, store), host=host, port=port, log_level="warning", access_log=False
        )
    finally:
        supervisor.stop()


@app.command()
def worker(
    data_dir: Path = DATA_DIR,
    db: str = DB,
    model: list[str] = MODELS,
    num_steps: int = NUM_STEPS,
    stale_after: float = STALE_AFTER,
    heartbeat: float = typer.Option(2.0, help="Seconds between heartbeats while working."),
    poll_interval: float = typer.Option(0.5, help="Seconds between looks at an empty queue."),
    max_jobs: int = typer.Option(None, help="Exit after this many jobs (default: run until stopped)."),
    nice: int = typer.Option(10, help="Lower this process's CPU priority so the API stays responsive."),
    threads: int = typer.Option(
        0,
        help="torch threads for generation (0: torch's default, one per core). With several workers on "
        "one machine, cores / workers: more threads than cores only wait for each other.",
    ),
    parent_pid: int = typer.Option(None, hidden=True, help="Exit when this process (haneul serve) is gone."),
    expander_url: str = EXPANDER_URL,
    expander_model: str = EXPANDER_MODEL,
) -> None:
    """Claim and generate queued videos until stopped (run several, on several machines, one database)."""
    if nice:  # first: a thread inherits its creator's nice, and importing numpy starts OpenBLAS's threads
        os.nice(nice)
    from haneul.serve.config import ServeConfig
    from haneul.serve.models import parse_model_map
    from haneul.serve.store import JobStore
    from haneul.serve.worker import Worker

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = ServeConfig(data_dir=data_dir, db_url=db, models=parse_model_map(model))
        store = JobStore(config.db_url, stale_after=stale_after)
    except InputError as e:
        fail(str(e))
    if threads:
        import torch

        torch.set_num_threads(threads)
    runner = Worker(
        config,
        store,
        num_steps=num_steps,
        poll_interval=poll_interval,
        heartbeat_every=heartbeat,
        parent_pid=parent_pid,
        expander_url=expander_url,
        expander_model=expander_model,
    )
    runner.install_signal_handlers()
    try:
        for name in config.models:  # load now, so the first job does not wait and bad models fail here
            runner.pipeline(name)
    except InputError as e:
        fail(str(e))
    typer.echo(f"haneul worker {runner.worker_id}: waiting for jobs in {config.db_url}")
    done = runner.run(max_jobs=max_jobs)
    typer.echo(f"haneul worker {runner.worker_id}: stopped after {done} job(s)")


def _worker_args(
    data_dir: Path, db_url: str, models: list[str], num_steps: int | None, stale_after: float
) -> list[str]:
    args = [sys.executable, "-m", "haneul.serve", "worker", "--data-dir", str(data_dir), "--db", db_url]
    args += ["--stale-after", str(stale_after), "--parent-pid", str(os.getpid())]
    for spec in models:
        args += ["--model", spec]
    if num_steps is not None:
        args += ["--num-steps", str(num_steps)]
    return args


class WorkerSupervisor:
    """Keeps `count` local worker processes running beside the API; restarts any that die."""

    def __init__(self, args: list[str], count: int):
        self.args = args
        self.procs: list[subprocess.Popen] = []
        self.count = count
        self.stopping = threading.Event()

    def start(self) -> None:
        self.procs = [subprocess.Popen(self.args) for _ in range(self.count)]
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self.stopping.wait(1.0):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self.stopping.is_set():
                    typer.echo(
                        f"haneul serve: worker {proc.pid} exited ({proc.returncode}); starting another",
                        err=True,
                    )
                    self.procs[i] = subprocess.Popen(self.args)

    def stop(self) -> None:
        self.stopping.set()
        for proc in self.procs:
            proc.terminate()
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
