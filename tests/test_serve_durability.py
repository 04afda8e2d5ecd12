"""Killing the API and a worker with SIGKILL mid-job loses nothing: real processes, on SQLite and on a
real PostgreSQL server started by the test (Debian's binaries; skipped only if they are absent)."""

from __future__ import annotations

import time

import av
import openai
import pytest
from openai import OpenAI

from haneul.serve.testing import Postgres, postgres_binaries, start_api, start_worker, tiny_model_dir

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY = "sk-durable-0123456789abcdef"
STALE = ["--stale-after", "4"]  # a job whose worker is silent this long is re-queued


def statuses(client: OpenAI, ids: list[str]) -> dict[str, openai.types.Video]:
    return {i: client.videos.retrieve(i) for i in ids}


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def kill_everything_mid_job_then_recover(tmp_path, model, db_url: str = "") -> None:
    data = tmp_path / "data"
    models = [f"sora-2={model}"]
    api_args = STALE + ["--poll-after-ms", "100", "--rate-limit", "100000"]
    api, url = start_api(data, [KEY], models, db_url=db_url, extra=api_args)
    slow_worker = start_worker(
        data, models, db_url, extra=STALE + ["--heartbeat", "0.5", "--num-steps", "150"]
    )
    procs = [api, slow_worker]
    try:
        client = OpenAI(base_url=url, api_key=KEY, max_retries=0)
        ids = [
            client.videos.create(prompt=f"clip {i}: a ball rolls", size="64x64", seconds="1").id
            for i in range(3)
        ]

        def sampling():
            running = [
                v for v in statuses(client, ids).values() if v.status == "in_progress" and v.progress > 2
            ]
            return running[0] if running else None

        victim = wait_until(sampling, 240, "a job in the middle of sampling")
        api.kill()  # the API first: the worker keeps going without it ...
        time.sleep(1.0)
        assert slow_worker.alive()
        slow_worker.kill()  # ... then the worker, mid-sampling

        api, url = start_api(data, [KEY], models, db_url=db_url, extra=api_args)
        worker = start_worker(data, models, db_url, extra=STALE + ["--heartbeat", "0.5", "--num-steps", "5"])
        procs += [api, worker]
        client = OpenAI(base_url=url, api_key=KEY, max_retries=0)

        def all_finished():
            now = statuses(client, ids)
            return now if all(v.status in ("completed", "failed") for v in now.values()) else None

        finished = wait_until(all_finished, 240, "every job to finish after the restart")
        assert {v.status for v in finished.values()} == {"completed"}, {
            i: v.error for i, v in finished.items()
        }
        for video_id in ids:
            folder = data / "videos" / video_id
            assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], (
                "a temp file was left behind"
            )
            with av.open(str(folder / "video.mp4")) as container:
                assert len(list(container.decode(video=0))) == 9
        assert victim.id in ids
    finally:
        for proc in procs:
            proc.stop()


def test_sigkill_api_and_worker_mid_job_on_sqlite(tmp_path_factory, tmp_path):
    kill_everything_mid_job_then_recover(tmp_path, tiny_model_dir(tmp_path_factory.getbasetemp()))


@pytest.mark.postgres
@pytest.mark.skipif(
    postgres_binaries() is None, reason="PostgreSQL binaries absent (apt-get install postgresql)"
)
def test_sigkill_api_and_worker_mid_job_on_postgres(tmp_path_factory, tmp_path):
    with Postgres() as pg:
        kill_everything_mid_job_then_recover(tmp_path, tiny_model_dir(tmp_path_factory.getbasetemp()), pg.url)
