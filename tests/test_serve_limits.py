"""What a request may ask of a served model: `seconds` is checked against the model's own longest video as
well as the server's cap, a mode the model lacks is refused, and a cached model description from before
`max_seconds` existed (or a corrupt cache) is read again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from haneul.errors import InputError
from haneul.serve.config import ServeConfig
from haneul.serve.models import ServedModel, _describe
from haneul.serve.parsing import (
    ApiError,
    check_source_seconds,
    extension_limit,
    parse_seconds,
    parse_shots,
    seconds_limit,
)
from haneul.serve.testing import tiny_model_dir

ALL_MODES = ["text", "image", "extend", "keyframes", "edit", "loop", "join"]


def served(max_seconds: float, modes: list[str] = ALL_MODES) -> ServedModel:
    return ServedModel("sora-2", "/models/m", "m", [(64, 64)], 8.0, 33, max_seconds, modes)


def test_a_model_shorter_than_the_server_cap_sets_the_limit():
    config = ServeConfig(Path("."), max_seconds=20)
    assert seconds_limit(config, served(120.0)) == 20
    assert seconds_limit(config, served(5.1)) == 5
    with pytest.raises(ApiError, match="from 1 to 5") as e:
        parse_seconds("6", seconds_limit(config, served(5.1)), "seconds")
    assert e.value.status == 400 and e.value.param == "seconds"
    assert parse_seconds("5", 5, "seconds") == 5


def test_storyboard_shots_add_up_to_at_most_the_models_length():
    shots = json.dumps([{"prompt": "a red ball", "seconds": "4"}, {"prompt": "a blue cube", "seconds": "4"}])
    assert len(parse_shots({"shots": shots}, ServeConfig(Path("."), max_seconds=20), served(10.0))) == 2
    with pytest.raises(ApiError, match="limit is 6 s"):
        parse_shots({"shots": shots}, ServeConfig(Path("."), max_seconds=20), served(6.0))


def test_a_cached_description_without_max_seconds_is_read_again(tmp_path):
    model = tiny_model_dir(tmp_path)
    first = _describe(str(model), tmp_path)
    assert first["max_seconds"] > 0
    cache = tmp_path / "serve-model-info.json"
    entries = json.loads(cache.read_text())
    for entry in entries.values():
        del entry["info"]["max_seconds"]  # as written by an older haneul
    cache.write_text(json.dumps(entries))
    assert _describe(str(model), tmp_path) == first
    assert all("max_seconds" in e["info"] for e in json.loads(cache.read_text()).values())


def test_a_source_longer_than_the_model_makes_is_refused_for_remix_and_edit():
    check_source_seconds(5, served(5.1), "video")
    with pytest.raises(ApiError, match="10 s long.*at most 5.1 s") as e:
        check_source_seconds(10, served(5.1), "video")
    assert e.value.status == 400 and e.value.param == "video"


def test_requests_longer_than_the_model_makes_are_400s_not_failed_jobs(tmp_path):
    """An extension's result (source + segment) can be longer than its model makes; re-rendering it whole
    (remix, edit by id) used to be queued and fail in the worker. No worker runs here: a 400 comes first."""
    from fastapi.testclient import TestClient

    from haneul.serve.api import create_app, new_job
    from haneul.serve.store import JobStore

    key = "k" * 20
    config = ServeConfig(tmp_path, api_keys={key: "me"}, max_seconds=20)
    store = JobStore(config.db_url)
    source = new_job("me", "extend", served(5.1), "a red ball", (64, 64), 10, {})
    assert store.add(source)
    claimed = store.claim("w1")
    assert store.complete(claimed.id, "w1")
    client = TestClient(create_app(config, {"sora-2": served(5.1)}, store))  # no startup: no prompt check
    auth = {"authorization": f"Bearer {key}"}
    remix = client.post(f"/v1/videos/{source.id}/remix", json={"prompt": "blue"}, headers=auth)
    assert remix.status_code == 400 and remix.json()["error"]["param"] == "video_id", remix.text
    edit = client.post("/v1/videos/edits", json={"prompt": "blue", "video": {"id": source.id}}, headers=auth)
    assert edit.status_code == 400 and edit.json()["error"]["param"] == "video", edit.text
    assert "at most 5.1 s" in edit.json()["error"]["message"]
    body = {
        "prompt": "on",
        "seconds": "5",
        "video": {"id": source.id},
    }  # 5 s + the 5 frames continued > 5.1 s
    extend = client.post("/v1/videos/extensions", json=body, headers=auth)
    assert extend.status_code == 400 and "from 1 to 4" in extend.json()["error"]["message"], extend.text
    assert store.list("me", None, 20, "desc").jobs[0].id == source.id  # nothing was queued
    (listed,) = client.get("/v1/models", headers=auth).json()["data"]
    assert (listed["seconds"][-1], listed["extend_seconds"][-1]) == ("5", "4")  # what the web page offers


def test_an_extension_leaves_room_for_the_frames_it_continues():
    """The worker asks the model for the source's last EXTEND_OVERLAP frames plus the new segment: a segment
    as long as the model's whole length was accepted and failed in the worker ('duration 2.6s is over this
    model's limit of 2s')."""
    from haneul.serve.worker import EXTEND_OVERLAP
    from haneul.testing import tiny_pipeline

    config = ServeConfig(Path("."), max_seconds=20)
    assert extension_limit(config, served(120.0)) == 20
    pipe = tiny_pipeline()
    pipe.spec.max_seconds = 2.0
    fps = pipe.spec.fps[0]
    limit = extension_limit(config, served(2.0))
    assert limit == 1
    pipe.check_frames(None, (EXTEND_OVERLAP + limit * fps - 1) / fps, fps)  # what the worker asks for
    with pytest.raises(InputError, match="over this model's limit"):
        pipe.check_frames(None, (EXTEND_OVERLAP + (limit + 1) * fps - 1) / fps, fps)


def test_a_corrupt_model_description_cache_is_described_again(tmp_path):
    model = tiny_model_dir(tmp_path)
    (tmp_path / "serve-model-info.json").write_text('{"half a file')
    assert _describe(str(model), tmp_path)["max_seconds"] > 0
    assert json.loads((tmp_path / "serve-model-info.json").read_text())  # rewritten whole


def test_a_mode_the_model_lacks_is_a_400_not_a_failed_job(tmp_path):
    """A text-only model (a diffusers text-to-video pipeline) is asked to extend, edit, remix or animate."""
    from fastapi.testclient import TestClient

    from haneul.serve.api import create_app, new_job
    from haneul.serve.store import JobStore

    key = "k" * 20
    config = ServeConfig(tmp_path, api_keys={key: "me"}, max_seconds=20)
    store = JobStore(config.db_url)
    text_only = served(5.1, ["text"])
    source = new_job("me", "create", text_only, "a red ball", (64, 64), 4, {})
    assert store.add(source)
    assert store.complete(store.claim("w1").id, "w1")
    client = TestClient(create_app(config, {"sora-2": text_only}, store))  # no startup: no prompt check
    auth = {"authorization": f"Bearer {key}"}
    asks = {
        "remix": client.post(f"/v1/videos/{source.id}/remix", json={"prompt": "blue"}, headers=auth),
        "edits": client.post(
            "/v1/videos/edits", json={"prompt": "b", "video": {"id": source.id}}, headers=auth
        ),
        "extensions": client.post(
            "/v1/videos/extensions",
            json={"prompt": "b", "seconds": "2", "video": {"id": source.id}},
            headers=auth,
        ),
        "storyboard": client.post(
            "/v1/videos",
            json={"prompt": "b", "shots": [{"prompt": "a", "seconds": "2"}, {"prompt": "b", "seconds": "2"}]},
            headers=auth,
        ),
    }
    for name, response in asks.items():
        assert response.status_code == 400, (name, response.text)
        assert "cannot do" in response.json()["error"]["message"] and "supports: text" in response.text
    assert [j.id for j in store.list("me", None, 20, "desc").jobs] == [source.id]  # nothing was queued


def test_an_uploaded_video_longer_than_the_server_takes_is_a_400(tmp_path):
    """It used to be recorded as --max-seconds long, and the worker read only part of it."""
    import numpy as np
    from fastapi.testclient import TestClient

    from haneul.serve.api import create_app
    from haneul.serve.store import JobStore
    from haneul.video_io import write_video

    key = "k" * 20
    config = ServeConfig(tmp_path, api_keys={key: "me"}, max_seconds=2)
    client = TestClient(create_app(config, {"sora-2": served(120.0)}, JobStore(config.db_url)))
    auth = {"authorization": f"Bearer {key}"}
    frames = np.zeros((8 * 4, 64, 64, 3), dtype=np.uint8)  # 4 s at 8 fps
    frames[:, 20:40, 10:30] = (200, 30, 30)
    clip = write_video(tmp_path / "long.mp4", frames, 8.0).read_bytes()
    for route, fields in [("edits", {"prompt": "blue"}), ("extensions", {"prompt": "on", "seconds": "1"})]:
        files = {"video": ("long.mp4", clip, "video/mp4")}
        response = client.post(f"/v1/videos/{route}", data=fields, files=files, headers=auth)
        assert response.status_code == 400, (route, response.text)
        assert "4.0 s long" in response.json()["error"]["message"] and "at most 2 s" in response.text


def test_an_upload_with_more_frames_than_the_server_decodes_is_refused_not_cut(tmp_path):
    """check_video used to stop at its frame cap, so the API measured only the video's start."""
    import numpy as np

    from haneul.serve.media import check_video
    from haneul.video_io import write_video

    data = write_video(tmp_path / "c.mp4", np.zeros((12, 32, 32, 3), np.uint8), 8.0).read_bytes()
    assert check_video(data, "video/mp4", "video", max_frames=12)[0].shape[0] == 12
    with pytest.raises(InputError, match="more than 11 frames"):
        check_video(data, "video/mp4", "video", max_frames=11)


def test_the_worker_reads_an_uploaded_source_whole_at_any_frame_rate(tmp_path):
    """The worker read at most --max-seconds x 60 frames, so a 120 fps upload lost its second half."""
    import numpy as np

    from haneul.serve.store import Job, JobStore
    from haneul.serve.worker import Worker
    from haneul.video_io import write_video

    config = ServeConfig(tmp_path, max_seconds=1)
    frames = np.zeros((240, 32, 32, 3), dtype=np.uint8)  # 2 s at 120 fps: under 2000 frames, over 1 x 60
    frames[120:] = 255  # the second second is white
    job = Job(id="video_x", params=json.dumps({"source": {"file": "source.mp4"}}))
    config.video_dir(job.id).mkdir(parents=True)
    write_video(config.video_dir(job.id) / "source.mp4", frames, 120.0)
    out = Worker(config, JobStore(config.db_url)).source_frames(job, 32, 32, 8.0)
    assert len(out) == 16 and out[-1].mean() > 200  # 2 s at 8 fps, ending white
