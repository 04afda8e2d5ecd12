"""The generation worker in-process (real pipeline, tiny model, SQLite job store): a job expanded by an LLM
expander (a real local chat-completions server) is stored with the caption the model saw; a storyboard's
per-shot captions and expansions are merged into one record."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from haneul.prompting.fake_server import FakeChatServer
from haneul.serve.config import ServeConfig
from haneul.serve.store import Job, JobStore, new_id
from haneul.serve.testing import tiny_model_dir
from haneul.serve.worker import Worker, what_the_model_saw

REPLY = "A small red ball falls onto green grass and bounces twice, lower each time."


def queued_job(prompt: str) -> Job:
    return Job(
        id=new_id("video"), owner="alice", kind="create", status="queued", progress=0, model="sora-2",
        prompt=prompt, size="64x64", seconds="1", params='{"seed": 1}', created_at=time.time(), attempts=0,
    )  # fmt: skip


def test_llm_expander_caption_is_stored_with_the_job(tmp_path, tmp_path_factory):
    model = tiny_model_dir(tmp_path_factory.getbasetemp())
    config = ServeConfig(data_dir=tmp_path, models={"sora-2": str(model)})
    store = JobStore(config.db_url)
    job = queued_job("a red ball bounces")
    assert store.add(job)
    with FakeChatServer(reply=lambda body: REPLY) as chat:
        worker = Worker(config, store, num_steps=2, expander_url=chat.url, expander_model="tiny-llm")
        assert worker.run(max_jobs=1) == 1
        assert chat.requests[0]["model"] == "tiny-llm"
        assert "a red ball bounces" in chat.requests[0]["messages"][-1]["content"]
    done = store.get(job.id)
    assert done.status == "completed", (done.error_code, done.error_message)
    assert done.caption == REPLY
    assert done.expansion_dict() == {"caption": REPLY, "unknown_words": [], "source": "llm", "warnings": []}
    assert (config.video_dir(job.id) / "video.mp4").is_file()


def shot(caption: str, expansion: dict | None) -> SimpleNamespace:
    return SimpleNamespace(caption=caption, metadata={"expansion": expansion})


def test_storyboard_captions_and_expansions_are_merged():
    first = {"caption": "A red ball.", "unknown_words": ["zebra"], "source": "builtin", "warnings": ["w1"]}
    second = {
        "caption": "zebra zebra",
        "unknown_words": ["zebra", "yak"],
        "source": "fallback",
        "warnings": ["w2"],
    }
    caption, merged = what_the_model_saw([shot("A red ball.", first), shot("zebra zebra", second)])
    assert caption == "A red ball.\nzebra zebra"
    assert merged == {
        "caption": caption,
        "unknown_words": ["zebra", "yak"],
        "source": "mixed",
        "warnings": ["shot 1: w1", "shot 2: w2"],
    }
    assert what_the_model_saw([shot("a ball", None)]) == ("a ball", None)
    assert what_the_model_saw([shot("a", None), shot("b", None)]) == ("a\nb", None)


@pytest.mark.parametrize("source", ["builtin", "llm"])
def test_one_source_is_kept_when_all_shots_agree(source):
    expansion = {"caption": "c", "unknown_words": [], "source": source, "warnings": []}
    assert what_the_model_saw([shot("c", expansion), shot("c", expansion)])[1]["source"] == source
