"""Load on the Videos API while the workers are busy: clients submit jobs concurrently and poll them to
completion through the `openai` SDK, against a real `haneul serve` (API process, no local worker) and
separate `haneul worker` processes running the real pipeline with a tiny random model.

    python bench/api_load.py                     # 10 clients x 5 jobs, 2 workers, SQLite
    python bench/api_load.py --postgres          # the same against a throwaway PostgreSQL

Last line: jobs=50 failed=0 lost=0 api_p50_ms=... api_p95_ms=... jobs_per_min=...
`api_*_ms` is the client-side latency of every API call (create and retrieve), measured while the
workers generate; `lost` counts jobs that vanished or never finished before the deadline. Every job has its
own prompt (the world benchmark's standard prompts, English and Korean, evenly spaced): the prompt check
embeds each distinct prompt of a batch once, so clients sending the same prompts would flatter it.
The line before it splits creates by the server's own `server-timing` header: the prompt check
(`moderation`: the round trip to the moderation child, queueing included), the database (`store`) and
the whole route (`total`); a create's client latency minus `total` is time spent outside the route
(HTTP, the event loop, the client itself).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import warnings
from pathlib import Path

from openai import OpenAI

from haneul.eval.prompt_set import STANDARD_SET, load_prompts
from haneul.serve.testing import Postgres, start_api, start_worker, tiny_model_dir

warnings.simplefilter("ignore", DeprecationWarning)  # the SDK marks client.videos deprecated


def server_timing(header: str) -> dict[str, float]:
    """`moderation;dur=12.3, store;dur=1.1, total;dur=15.0` -> {"moderation": 12.3, ...} (milliseconds)."""
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            out[name] = float(dur)
    return out


def job_prompts(n: int) -> list[str]:
    """n prompts evenly spaced over the world benchmark's standard set (212 rows, 208 distinct prompts):
    all different for the default 50 jobs; more than 208 jobs repeat some."""
    rows = load_prompts(STANDARD_SET)
    return [rows[i * len(rows) // n]["prompt"] for i in range(n)]


def run_client(
    client: OpenAI,
    prompts: list[str],
    args,
    latencies: list[tuple[str, float]],
    results: dict,
    stages: list[dict[str, float]],
) -> None:
    def timed(kind: str, call, *a, **kw):
        start = time.perf_counter()
        try:
            return call(*a, **kw)
        finally:
            latencies.append((kind, (time.perf_counter() - start) * 1000))

    ids = []
    for prompt in prompts:
        create = client.videos.with_raw_response.create
        raw = timed("create", create, prompt=prompt, size=args.size, seconds=args.seconds)
        stages.append(server_timing(raw.headers.get("server-timing", "")))  # where the create's time went
        ids.append(raw.parse().id)
    pending = set(ids)
    deadline = time.monotonic() + args.timeout
    while pending and time.monotonic() < deadline:
        for video_id in sorted(pending):
            try:
                video = timed("retrieve", client.videos.retrieve, video_id)
            except Exception as e:  # a 404 here would be a lost job
                results[video_id] = f"error: {e}"
                pending.discard(video_id)
                continue
            if video.status in ("completed", "failed"):
                results[video_id] = video.status
                pending.discard(video_id)
        time.sleep(args.poll)
    for video_id in pending:
        results[video_id] = "unfinished"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=50, help="total, split evenly over the clients")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (separate from the API)")
    parser.add_argument("--size", default="64x64")
    parser.add_argument("--seconds", default="1")
    parser.add_argument(
        "--poll",
        type=float,
        default=1.0,
        help="seconds between a client's polling rounds (the server's poll-after)",
    )
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument(
        "--postgres", action="store_true", help="use a throwaway PostgreSQL instead of SQLite"
    )
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="haneul-api-load-"))
    model = tiny_model_dir(base)
    models = [f"sora-2={model}"]
    keys = [f"sk-bench-{i:02d}-0123456789abcdef" for i in range(args.clients)]
    pg = Postgres().start() if args.postgres else None
    db_url = pg.url if pg else ""
    threads = max(1, (os.cpu_count() or 1) // args.workers)  # as `haneul serve` gives its local workers
    api, url = start_api(base / "data", keys, models, db_url=db_url, extra=["--rate-limit", "100000"])
    workers = [
        start_worker(base / "data", models, db_url, extra=["--nice", "10", "--threads", str(threads)])
        for _ in range(args.workers)
    ]
    try:
        latencies: list[tuple[str, float]] = []  # (create | retrieve, ms)
        results: dict[str, str] = {}
        stages: list[dict[str, float]] = []  # the server's own timing of each create
        prompts = job_prompts(args.jobs)
        # Each client is made before the clock starts, as a client program makes it at its own start: an
        # OpenAI() costs 20-80 ms of CPU (its SSL context), and ten made at once inside the first creates'
        # time held the GIL and both cores against them (session 11: the client process spent 380 ms of CPU
        # in the 50 creates' burst, 90-110 ms with the clients made first).
        clients = [OpenAI(base_url=url, api_key=key, max_retries=0, timeout=30) for key in keys]
        threads = [
            threading.Thread(
                target=run_client,
                args=(client, prompts[i :: args.clients], args, latencies, results, stages),
            )
            for i, client in enumerate(clients)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        for proc in [api, *workers]:
            proc.stop()
        if pg:
            pg.stop()
    failed = sum(1 for r in results.values() if r == "failed")
    lost = args.jobs - sum(1 for r in results.values() if r in ("completed", "failed"))
    cuts = statistics.quantiles([ms for _, ms in latencies], n=100)
    by_kind = {
        k: statistics.quantiles([ms for c, ms in latencies if c == k], n=100) for k in ("create", "retrieve")
    }
    print(
        f"db={'postgresql' if pg else 'sqlite'} workers={args.workers} clients={args.clients} "
        f"requests={len(latencies)} wall_s={wall:.1f} "
        + " ".join(f"{k}_p50_ms={q[49]:.1f} {k}_p95_ms={q[94]:.1f}" for k, q in by_kind.items())
    )
    print(
        "create_server_ms (p50/p95, the server's own timing): "
        + " ".join(
            f"{k}={statistics.median(v):.1f}/{statistics.quantiles(v, n=20)[18]:.1f}"
            for k in ("moderation", "store", "total")
            if len(v := [s[k] for s in stages if k in s]) >= 2
        )
    )
    print(
        f"jobs={args.jobs} failed={failed} lost={lost} api_p50_ms={cuts[49]:.1f} api_p95_ms={cuts[94]:.1f} "
        f"jobs_per_min={args.jobs / wall * 60:.1f}"
    )


if __name__ == "__main__":
    main()
