"""The Videos API, driven only through the official `openai` SDK against a real `haneul serve` process
(uvicorn on a free port, one worker process, the real pipeline with a tiny random model, SQLite).
`sora-2` serves the tiny model as is, `sora-2-pro` the same weights with the world prompt expander on."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from pathlib import Path
from types import SimpleNamespace

import av
import httpx
import numpy as np
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types import Video
from PIL import Image

from haneul.serve.testing import expanding_model_dir, start_api, tiny_model_dir

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning"
)  # the SDK marks client.videos deprecated

KEY_A = "sk-test-a-0123456789abcdef"
KEY_B = "sk-test-b-0123456789abcdef"
KEY_LIST = "sk-test-list-0123456789abcdef"
SERVER_ARGS = ["--num-steps", "10", "--poll-after-ms", "100", "--max-seconds", "6", "--rate-limit", "100000"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = tiny_model_dir(tmp_path_factory.getbasetemp())
    expanding = expanding_model_dir(tmp_path_factory.getbasetemp())
    data = tmp_path_factory.mktemp("serve-api")
    models = [f"sora-2={model}", f"sora-2-pro={expanding}"]
    proc, url = start_api(data, [KEY_A, KEY_B, KEY_LIST], models, workers=1, extra=SERVER_ARGS)
    yield SimpleNamespace(url=url, proc=proc, data=data, model=model)
    proc.stop()


@pytest.fixture(scope="module")
def client(server) -> OpenAI:
    return OpenAI(base_url=server.url, api_key=KEY_A, max_retries=0)


@pytest.fixture(scope="module")
def base_video(client):
    """One finished 1-second video that remix, edit and extend start from."""
    video = client.videos.create_and_poll(
        prompt="a red ball bounces on green grass", size="64x64", seconds="1"
    )
    assert video.status == "completed", video.error
    return video


def png(width: int = 64, height: int = 64) -> bytes:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = (220, 30, 30)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


# --- create, poll, download -------------------------------------------------------------------------


def test_create_and_poll_then_download_every_variant(client, tmp_path):
    video = client.videos.create_and_poll(prompt="a blue square slides left", size="96x64", seconds="1")
    assert (video.status, video.progress, video.size, video.seconds, video.model) == (
        "completed", 100, "96x64", "1", "sora-2",
    )  # fmt: skip
    assert video.error is None and video.completed_at >= video.created_at
    client.videos.download_content(video.id).write_to_file(tmp_path / "v.mp4")
    frames = frames_of(tmp_path / "v.mp4")
    assert len(frames) == 9 and frames[0].shape == (64, 96, 3)  # 1 s at 8 fps -> 1 + 4k frames
    client.videos.download_content(video.id, variant="thumbnail").write_to_file(tmp_path / "t.png")
    assert Image.open(tmp_path / "t.png").size == (96, 64)
    client.videos.download_content(video.id, variant="spritesheet").write_to_file(tmp_path / "s.png")
    assert Image.open(tmp_path / "s.png").size == (5 * 96, 2 * 64)


def test_progress_rises_while_sampling_and_poll_header_is_set(client):
    video = client.videos.create(prompt="a yellow star spins", size="64x64", seconds="4")
    assert (video.status, video.progress) == ("queued", 0)  # created as queued; a worker then claims it
    seen, headers = [], set()
    deadline = time.monotonic() + 120
    while video.status in ("queued", "in_progress") and time.monotonic() < deadline:
        raw = client.videos.with_raw_response.retrieve(video.id)
        video = raw.parse()
        seen.append((video.status, video.progress))
        if video.status in ("queued", "in_progress"):
            headers.add(raw.headers.get("openai-poll-after-ms"))
        time.sleep(0.03)
    assert video.status == "completed", video.error
    assert "in_progress" in {s for s, _ in seen}, seen
    progress = [p for _, p in seen]
    assert progress == sorted(progress), seen  # never goes back
    assert len({p for s, p in seen if s == "in_progress" and 0 < p < 100}) >= 2, seen  # rises step by step
    assert headers == {"100"}


def test_image_to_video_from_upload_and_from_data_url(client):
    uploaded = client.videos.create_and_poll(
        prompt="the red half slides right", size="64x64", seconds="1",
        input_reference=("ref.png", png(), "image/png"),
    )  # fmt: skip
    assert uploaded.status == "completed", uploaded.error
    # SDK 3.54 only uploads files through videos.create, so the JSON form goes through its generic post()
    url = "data:image/png;base64," + base64.b64encode(png(96, 64)).decode()
    body = {
        "prompt": "the red half slides right",
        "size": "64x64",
        "seconds": "1",
        "input_reference": {"image_url": url},
    }
    from_url = client.videos.poll(client.post("/videos", body=body, cast_to=Video).id)
    assert from_url.status == "completed", from_url.error


def test_async_client_create_poll_list(server):
    async def run():
        async with AsyncOpenAI(base_url=server.url, api_key=KEY_A, max_retries=0) as aclient:
            video = await aclient.videos.create_and_poll(
                prompt="a green circle falls", size="64x96", seconds="1"
            )
            again = await aclient.videos.retrieve(video.id)
            page = await aclient.videos.list(limit=100)
            return video, again, [v.id async for v in page]

    video, again, listed = asyncio.run(run())
    assert video.status == "completed", video.error
    assert again.id == video.id and video.id in listed


# --- remix, edit, extend, characters -------------------------------------------------------------


def poll(client: OpenAI, video):
    return client.videos.poll(video.id)


def by_id(client: OpenAI, route: str, **body) -> Video:
    """edits/extensions with {"video": {"id": ...}} as JSON: SDK 3.54's typed methods only upload files."""
    return client.post(f"/videos/{route}", body=body, cast_to=Video)


def test_remix(client, base_video):
    remix = poll(client, client.videos.remix(base_video.id, prompt="the same ball, but blue"))
    assert remix.status == "completed", remix.error
    assert remix.remixed_from_video_id == base_video.id
    assert (remix.size, remix.seconds, remix.prompt) == (
        base_video.size,
        base_video.seconds,
        "the same ball, but blue",
    )


def test_edit_by_id_and_by_upload(client, base_video, tmp_path):
    edited = poll(client, by_id(client, "edits", prompt="make it night", video={"id": base_video.id}))
    assert edited.status == "completed", edited.error
    assert edited.size == base_video.size
    client.videos.download_content(base_video.id).write_to_file(tmp_path / "src.mp4")
    upload = ("src.mp4", (tmp_path / "src.mp4").read_bytes(), "video/mp4")
    by_upload = poll(client, client.videos.edit(prompt="make it snow", video=upload))
    assert by_upload.status == "completed", by_upload.error
    assert (by_upload.size, by_upload.seconds) == ("64x64", "1")


def test_extend_stitches_source_and_new_frames(client, base_video, tmp_path):
    video = {"id": base_video.id}
    extended = poll(
        client, by_id(client, "extensions", prompt="the ball rolls away", seconds="1", video=video)
    )
    assert extended.status == "completed", extended.error
    assert extended.seconds == "2"  # the stitched total, as OpenAI reports it
    client.videos.download_content(base_video.id).write_to_file(tmp_path / "a.mp4")
    client.videos.download_content(extended.id).write_to_file(tmp_path / "b.mp4")
    source, longer = frames_of(tmp_path / "a.mp4"), frames_of(tmp_path / "b.mp4")
    assert len(longer) == len(source) + 8
    # the extension begins with the source itself (H.264 re-encoding changes pixels a little)
    assert np.abs(longer[0].astype(int) - source[0].astype(int)).mean() < 6
    upload = ("a.mp4", (tmp_path / "a.mp4").read_bytes(), "video/mp4")
    from_file = poll(client, client.videos.extend(prompt="and back again", seconds="2", video=upload))
    assert (from_file.status, from_file.seconds) == ("completed", "3"), from_file.error


def test_storyboard_is_one_continuous_video(client, tmp_path):
    shots = [
        {"prompt": "a red ball rolls in", "seconds": "1"},
        {"prompt": "a blue box falls near a zebra", "seconds": "1"},
    ]
    body = {"prompt": "storyboard", "model": "sora-2-pro", "size": "64x64", "shots": shots, "seed": 3}
    video = client.videos.poll(client.post("/videos", body=body, cast_to=Video).id)
    assert (video.status, video.seconds) == ("completed", "2"), video.error
    client.videos.download_content(video.id).write_to_file(tmp_path / "board.mp4")
    assert len(frames_of(tmp_path / "board.mp4")) == 9 + 8  # shot 2 continues shot 1's last frames
    # every shot was expanded on its own: one caption per line, the unknown words of all shots
    captions = video.model_extra["caption"].split("\n")
    assert len(captions) == 2 and "red ball" in captions[0] and "blue" in captions[1], captions
    assert video.model_extra["expansion"]["unknown_words"] == ["near", "zebra"]
    assert video.model_extra["expansion"]["warnings"][0].startswith("shot 2: ")


# --- what the model saw (haneul extension fields) -----------------------------------------------------


def test_caption_the_model_saw_is_stored_and_returned(client):
    plain = client.videos.create_and_poll(prompt="a blue square slides left", size="64x64", seconds="1")
    assert plain.status == "completed", plain.error
    assert (plain.model_extra["caption"], plain.model_extra["expansion"]) == (plain.prompt, None)

    prompt = "a red ball bounces near a zebra"
    video = client.videos.create(prompt=prompt, model="sora-2-pro", size="64x64", seconds="1")
    assert (video.model_extra["caption"], video.model_extra["expansion"]) == (None, None)  # not made yet
    video = client.videos.poll(video.id)
    assert video.status == "completed", video.error
    caption, expansion = video.to_dict()["caption"], video.to_dict()["expansion"]
    assert caption != prompt and "red ball" in caption and "bounces" in caption, caption
    assert expansion["caption"] == caption and expansion["source"] == "builtin"
    assert expansion["unknown_words"] == ["near", "zebra"] and "zebra" in expansion["warnings"][0]
    listed = {v.id: v for v in client.videos.list(limit=100)}[video.id]
    assert (listed.model_extra["caption"], listed.model_extra["expansion"]) == (caption, expansion)

    nothing_known = client.videos.create_and_poll(
        prompt="xyzzy plugh", model="sora-2-pro", size="64x64", seconds="1"
    )
    assert nothing_known.model_extra["caption"] == "xyzzy plugh"
    assert nothing_known.model_extra["expansion"]["source"] == "fallback"


def test_characters(client, base_video, tmp_path):
    client.videos.download_content(base_video.id).write_to_file(tmp_path / "mina.mp4")
    made = client.videos.create_character(
        name="Mina", video=("mina.mp4", (tmp_path / "mina.mp4").read_bytes(), "video/mp4")
    )
    assert made.id.startswith("char_") and made.name == "Mina" and made.created_at > 0
    got = client.videos.get_character(made.id)
    assert (got.id, got.name, got.created_at) == (made.id, "Mina", made.created_at)
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.create_character(name="Bad", video=("bad.mp4", b"not a video at all", "video/mp4"))
    assert e.value.param == "video"
    with pytest.raises(openai.NotFoundError):
        client.videos.get_character("char_" + "0" * 32)


# --- list, delete ------------------------------------------------------------------------------------


def test_list_pagination_both_orders_then_delete(server):
    client = OpenAI(base_url=server.url, api_key=KEY_LIST, max_retries=0)  # its own key: only these jobs
    made = [client.videos.create(prompt=f"shot {i}", size="64x64", seconds="1").id for i in range(5)]
    first = client.videos.list(limit=2, order="asc")
    assert [v.id for v in first.data] == made[:2] and first.has_more
    assert [v.id for v in client.videos.list(limit=2, order="asc")] == made  # auto-pagination via `after`
    assert [v.id for v in client.videos.list(limit=2, order="desc")] == made[::-1]
    assert [v.id for v in client.videos.list(limit=3, order="asc", after=made[1]).data] == made[2:]
    last = client.videos.list(limit=2, order="asc", after=made[2])
    assert [v.id for v in last.data] == made[3:] and not last.has_more
    for video_id in made:
        deleted = client.videos.delete(video_id)
        assert (deleted.id, deleted.deleted, deleted.object) == (video_id, True, "video.deleted")
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(video_id)
        with pytest.raises(openai.NotFoundError):
            client.videos.delete(video_id)
    assert client.videos.list().data == []


def test_delete_completed_removes_files(client, server):
    video = client.videos.create_and_poll(prompt="a purple cube", size="64x64", seconds="1")
    folder = server.data / "videos" / video.id
    assert (folder / "video.mp4").is_file()
    assert client.videos.delete(video.id).deleted
    assert not folder.exists()
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)


# --- errors ------------------------------------------------------------------------------------------


def expect_error(call, status: int, param: str | None, code: str | None = None, says: str = ""):
    with pytest.raises(openai.APIStatusError) as e:
        call()
    error = e.value
    assert error.status_code == status, error.body
    assert set(error.body) == {"message", "type", "param", "code"}, error.body  # OpenAI's error shape
    assert error.param == param, error.body
    if code:
        assert error.code == code, error.body
    assert says in error.body["message"], error.body


def test_validation_errors(client, base_video):
    create = client.videos.create
    expect_error(
        lambda: create(prompt="x", size="720x1280"),
        400,
        "size",
        "invalid_value",
        "supported: 64x64, 96x64, 64x96",
    )
    expect_error(lambda: create(prompt="x", seconds="0"), 400, "seconds", "invalid_value", "from 1 to 6")
    expect_error(lambda: create(prompt="x", seconds="7"), 400, "seconds", "invalid_value", "from 1 to 6")
    expect_error(lambda: create(prompt="x", seconds="four"), 400, "seconds", "invalid_value")
    expect_error(
        lambda: create(prompt="x", model="sora-9"), 400, "model", "invalid_value", "sora-2, sora-2-pro"
    )
    expect_error(lambda: create(prompt=""), 400, "prompt", "missing_required_parameter")
    expect_error(lambda: create(prompt="x" * 5000), 400, "prompt", "invalid_value")
    expect_error(lambda: create(prompt="x", extra_body={"seed": -1}), 400, "seed")
    bad_types = ("a.txt", b"hello", "text/plain")
    expect_error(
        lambda: create(prompt="x", input_reference=bad_types), 400, "input_reference", says="content type"
    )
    liar = ("a.png", b"\x89PNG\r\n\x1a\n garbage", "image/png")
    expect_error(
        lambda: create(prompt="x", input_reference=liar), 400, "input_reference", says="does not decode"
    )
    jpeg_as_png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg_as_png, format="JPEG")
    mislabelled = ("a.png", jpeg_as_png.getvalue(), "image/png")
    expect_error(lambda: create(prompt="x", input_reference=mislabelled), 400, "input_reference")
    remote = {"prompt": "x", "input_reference": {"image_url": "https://example.com/a.png"}}
    expect_error(
        lambda: client.post("/videos", body=remote, cast_to=Video), 400, "input_reference", says="data: URL"
    )
    expect_error(lambda: client.videos.retrieve("video_" + "0" * 32), 404, "video_id", "not_found")
    expect_error(
        lambda: client.videos.retrieve("..%2F..%2Fetc%2Fpasswd"), 400, "video_id", says="not a valid id"
    )
    expect_error(
        lambda: client.videos.retrieve("video_../../../etc/passwd"), 404, None
    )  # slashes: no such route
    expect_error(lambda: client.videos.download_content(base_video.id, variant="poster"), 400, "variant")
    expect_error(lambda: client.videos.list(limit=0), 400, "limit")
    expect_error(lambda: client.videos.list(limit=101), 400, "limit")
    expect_error(lambda: client.videos.list(order="sideways"), 400, "order")
    expect_error(lambda: client.videos.list(after="video_" + "1" * 32), 400, "after")
    expect_error(lambda: client.videos.remix("video_" + "0" * 32, prompt="x"), 404, "video_id")
    source = {"id": base_video.id}
    expect_error(lambda: by_id(client, "extensions", prompt="x", seconds="0", video=source), 400, "seconds")
    expect_error(lambda: by_id(client, "edits", prompt="x", video={"id": "nope"}), 400, "video")
    expect_error(
        lambda: by_id(client, "edits", prompt="x", video={}), 400, "video", "missing_required_parameter"
    )
    not_video = ("a.mp4", b"\x00" * 100, "video/mp4")
    expect_error(
        lambda: client.videos.edit(prompt="x", video=not_video), 400, "video", says="does not decode"
    )


def test_failed_job_reports_error_code_and_message(client):
    source = client.videos.create_and_poll(prompt="a green box", size="64x64", seconds="1")
    assert source.status == "completed", source.error
    # the one worker is busy with this longer job while the remix waits behind it ...
    blocker = client.videos.create(prompt="a long slow pan", size="64x64", seconds="4")
    remix = client.videos.remix(source.id, prompt="the same box, but red")
    client.videos.delete(source.id)  # ... so its source is gone by the time the worker gets to it
    remix = client.videos.poll(remix.id)
    assert remix.status == "failed" and remix.error.code == "invalid_request", remix
    assert "was deleted before this job ran" in remix.error.message and remix.completed_at is None
    assert client.videos.poll(blocker.id).status == "completed"


def test_binds_to_loopback_by_default(server):
    """`haneul serve` without --host listens on 127.0.0.1 only (the fixture does not pass --host)."""
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    listening = []
    for line in (
        Path("/proc/net/tcp").read_text().splitlines()[1:]
        + Path("/proc/net/tcp6").read_text().splitlines()[1:]
    ):
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            listening.append(local.rsplit(":", 1)[0])
    assert listening == ["0100007F"], listening  # 127.0.0.1, little-endian hex; no 0.0.0.0 nor ::


def test_content_of_unfinished_video_is_refused(client):
    video = client.videos.create(prompt="a slow pan over hills", size="64x64", seconds="4")
    expect_error(lambda: client.videos.download_content(video.id), 400, "video_id", "video_not_ready")
    expect_error(lambda: client.videos.remix(video.id, prompt="x"), 400, "video_id", "video_not_ready")
    client.videos.delete(video.id)


def test_auth_is_required_and_videos_are_private(server, client, base_video):
    expect_error(
        lambda: OpenAI(base_url=server.url, api_key="sk-wrong-0123456789", max_retries=0).videos.list(),
        401,
        None,
        "invalid_api_key",
    )
    response = httpx.get(f"{server.url}/videos")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    other = OpenAI(base_url=server.url, api_key=KEY_B, max_retries=0)
    expect_error(lambda: other.videos.retrieve(base_video.id), 404, "video_id")
    expect_error(lambda: other.videos.delete(base_video.id), 404, "video_id")
    assert base_video.id not in [v.id for v in other.videos.list()]


def test_moderation_refusal_is_400_moderation_blocked(client):
    prompt = "a photorealistic video of a person being beheaded, blood everywhere"
    expect_error(lambda: client.videos.create(prompt=prompt), 400, "prompt", "moderation_blocked", "violence")
    shots = [{"prompt": "a sunny meadow", "seconds": "1"}, {"prompt": prompt, "seconds": "1"}]
    body = {"prompt": "storyboard", "shots": shots}
    expect_error(
        lambda: client.post("/videos", body=body, cast_to=Video), 400, "prompt", "moderation_blocked"
    )


def test_create_says_where_its_time_went_in_server_timing(client):
    create = client.videos.with_raw_response.create
    raw = create(prompt="a green cube slides on a table", size="64x64", seconds="1")
    parts = [part.strip().partition(";dur=") for part in raw.headers["server-timing"].split(",")]
    timing = {name: float(dur) for name, _, dur in parts}
    assert list(timing) == ["moderation", "store", "total"], raw.headers["server-timing"]
    assert 0 < timing["moderation"] < timing["total"] and 0 < timing["store"] < timing["total"]
    assert timing["moderation"] + timing["store"] <= timing["total"]
    assert raw.parse().status == "queued"


def test_api_process_never_loads_torch(server, client, base_video):
    client.videos.retrieve(base_video.id)  # after real traffic, including a finished video
    maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
    assert "libtorch" not in maps


# --- limits (a second server, API only, with tight limits) -----------------------------------------


@pytest.fixture(scope="module")
def limited(server, tmp_path_factory):
    data = tmp_path_factory.mktemp("serve-limits")
    keys = ["sk-rate-0123456789abcdef", "sk-jobs-0123456789abcdef", "sk-upload-0123456789abcdef"]
    extra = ["--rate-limit", "5", "--max-active-jobs", "2", "--max-upload-mb", "0.05"]
    proc, url = start_api(data, keys, [f"sora-2={server.model}"], workers=0, extra=extra)
    yield SimpleNamespace(url=url, keys=keys)
    proc.stop()


def test_rate_limit_429_with_retry_after(limited):
    client = OpenAI(base_url=limited.url, api_key=limited.keys[0], max_retries=0)
    for _ in range(5):
        client.videos.list()
    with pytest.raises(openai.RateLimitError) as e:
        client.videos.list()
    assert e.value.code == "rate_limit_exceeded"
    assert 1 <= int(e.value.response.headers["retry-after"]) <= 60


def test_concurrent_job_limit_429(limited):
    client = OpenAI(base_url=limited.url, api_key=limited.keys[1], max_retries=0)
    for _ in range(2):  # no worker on this server: they stay queued
        client.videos.create(prompt="waiting", size="64x64", seconds="1")
    with pytest.raises(openai.RateLimitError) as e:
        client.videos.create(prompt="one too many", size="64x64", seconds="1")
    assert e.value.code == "too_many_active_jobs" and e.value.response.headers["retry-after"]


def test_upload_cap_413(limited):
    client = OpenAI(base_url=limited.url, api_key=limited.keys[2], max_retries=0)
    big = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)  # noise: ~200 KB PNG
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="PNG")
    expect_error(
        lambda: client.videos.create(prompt="x", input_reference=("big.png", buffer.getvalue(), "image/png")),
        413, None, "upload_too_large",
    )  # fmt: skip
