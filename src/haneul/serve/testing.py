"""Real processes for tests and benchmarks of the server: `haneul serve` / `haneul worker` on a free port,
and a throwaway PostgreSQL cluster (Debian's binaries, initdb into a temp dir, started on a free port).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process with its output in a log file (read it when a test fails)."""

    def __init__(self, args: list[str], log: Path, env: dict | None = None):
        self.args = args
        self.log = log
        self._log_file = open(log, "ab")
        self.popen = subprocess.Popen(
            args, stdout=self._log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            os.kill(self.pid, sig)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 15 s."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def haneul(*args: str) -> list[str]:
    return [sys.executable, "-m", "haneul.serve", *args]


def start_api(
    data_dir: Path,
    keys: list[str],
    models: list[str],
    db_url: str = "",
    workers: int | None = 0,
    extra: list[str] = (),
    port: int | None = None,
    timeout: float = 900.0,  # the API waits for its moderation child: minutes to load next to a training run
) -> tuple[Proc, str]:
    """Start `haneul serve` and wait until it answers; returns (process, base URL ending in /v1).

    workers=None leaves `--workers` out, so the server starts its default local worker.
    """
    port = port or free_port()
    args = haneul("serve", "--port", str(port), "--data-dir", str(data_dir))
    args += ["--workers", str(workers)] if workers is not None else []
    args += ["--db", db_url] if db_url else []
    for spec in models:
        args += ["--model", spec]
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = Proc(args + list(extra), data_dir / f"api-{port}.log", env={"HANEUL_API_KEYS": ",".join(keys)})
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc, timeout)
    return proc, f"http://127.0.0.1:{port}/v1"


def start_worker(data_dir: Path, models: list[str], db_url: str = "", extra: list[str] = ()) -> Proc:
    args = haneul("worker", "--data-dir", str(data_dir), "--nice", "0")
    args += ["--db", db_url] if db_url else []
    for spec in models:
        args += ["--model", spec]
    data_dir.mkdir(parents=True, exist_ok=True)
    return Proc(args + list(extra), data_dir / f"worker-{time.monotonic_ns()}.log")


def wait_ready(url: str, proc: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"server exited ({proc.popen.returncode}):\n{proc.output()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"server not ready after {timeout:.0f} s:\n{proc.output()[-3000:]}")


def postgres_binaries() -> Path | None:
    """The folder of Debian's initdb/pg_ctl, or None if PostgreSQL is not installed."""
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port>; as root, it runs as the `postgres` user."""

    def __init__(self):
        self.bin = postgres_binaries()
        if self.bin is None:
            raise RuntimeError(
                "PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="haneul-pg-"))
        self.port = free_port()
        self.url = f"postgresql://haneul@127.0.0.1:{self.port}/postgres"
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd=self.dir)

    def start(self) -> Postgres:
        if self.user:
            user = pwd.getpwnam(self.user)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-U", "haneul", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(self.dir / "log"), "-w", "-t", "60", "start"
        )
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def tiny_model_dir(base: Path) -> Path:
    """A tiny random model under `base`, made on first use (the real pipeline, in seconds)."""
    from haneul.testing import make_tiny_model

    folder = base / "serve-tiny-model"
    if not (folder / "haneul.json").is_file():
        make_tiny_model(folder)
    return folder


def expanding_model_dir(base: Path) -> Path:
    """The tiny model with the built-in world prompt expander switched on (haneul.json `"expander": "world"`),
    as the bundled model has it: its jobs' captions are expanded prompts, not the prompts themselves."""
    import json

    folder = base / "serve-tiny-expanding-model"
    if not (folder / "haneul.json").is_file():
        shutil.copytree(tiny_model_dir(base), folder, dirs_exist_ok=True)
        spec = json.loads((folder / "haneul.json").read_text())
        (folder / "haneul.json").write_text(json.dumps({**spec, "expander": "world"}, indent=2))
    return folder
