"""The OpenAI-compatible Videos API (FastAPI): every route `client.videos` of the `openai` SDK calls.

The API only validates, stores and serves: a request becomes a row in the job store and its uploads
become files; workers (separate processes, see worker.py) do the generation. So this process never
imports torch and answers in milliseconds while the workers keep every core busy.

Errors always have OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Row
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from haneul.errors import InputError, ModerationBlocked
from haneul.serve import schemas
from haneul.serve.config import ServeConfig
from haneul.serve.media import check_video, closest_size, write_bytes_atomic
from haneul.serve.models import ServedModel, resolve_name
from haneul.serve.parsing import (
    ApiError,
    check_id,
    check_source_seconds,
    extension_limit,
    parse_seconds,
    parse_seed,
    parse_shots,
    parse_size,
    read_body,
    read_reference,
    read_upload,
    require_mode,
    seconds_limit,
    text,
)
from haneul.serve.prompt_check import PromptChecker
from haneul.serve.store import CHARACTER_ID, VIDEO_ID, Character, Job, JobStore, new_id

STATIC_DIR = Path(__file__).parent / "static"
VARIANTS = {"video": ("video.mp4", "video/mp4"), "thumbnail": ("thumbnail.png", "image/png")}
VARIANTS["spritesheet"] = ("spritesheet.png", "image/png")
JOB_COLUMNS = {column.key: None for column in Job.__table__.columns}  # new_job's attributes
ERRORS = {status: {"model": schemas.ErrorResponse} for status in (400, 401, 404, 413, 429)}
BEARER = HTTPBearer(auto_error=False)  # Authorization: Bearer <key>; missing keys get our own 401


def error_response(status: int, message: str, type: str, param=None, code=None, headers=None) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class RateLimiter:
    """At most `per_minute` requests per key in any sliding 60-second window (per API process)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.seen: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """0 if this request may go ahead (and count it), else seconds until one may."""
        now = time.monotonic()
        with self.lock:
            times = self.seen.setdefault(key, deque())
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self.per_minute:
                return max(1, math.ceil(times[0] + 60 - now))
            times.append(now)
            return 0


def create_app(config: ServeConfig, served: dict[str, ServedModel], store: JobStore | None = None) -> FastAPI:
    """The API app for `config`; `served` describes each API model name's local model."""
    store = store or JobStore(config.db_url)
    limiter = RateLimiter(config.rate_limit)
    app = FastAPI(
        title="haneul Videos API",
        version="1",
        description="OpenAI-compatible Videos API (client.videos of the openai SDK), served by haneul.",
    )
    app.state.store = store
    checker = PromptChecker()
    app.state.checker = checker
    app.router.on_startup.append(checker.start)  # answer requests only once prompts can be checked
    app.router.on_shutdown.append(checker.close)

    async def check_prompt(prompt: str) -> float:
        """Refuse `prompt` (ModerationBlocked) or pass; returns the milliseconds the check took."""
        start = time.perf_counter()
        await checker.check(prompt)
        return (time.perf_counter() - start) * 1000

    install_error_handlers(app)

    async def owner(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> str:
        # async: a dict lookup and a counter, not worth a trip through the thread pool
        if creds is None:
            raise ApiError(
                401, "You didn't provide an API key (Authorization: Bearer <key>).", code="invalid_api_key"
            )
        name = config.api_keys.get(creds.credentials)
        if name is None:
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
        wait = limiter.retry_after(creds.credentials)
        if wait:
            message = f"Rate limit reached: {config.rate_limit} requests per minute for this key."
            raise ApiError(
                429, message, code="rate_limit_exceeded", type="requests", headers={"retry-after": str(wait)}
            )
        return name

    # --- videos -------------------------------------------------------------------------------------

    @app.post(
        "/v1/videos", response_model=schemas.VideoObject, responses=ERRORS, openapi_extra=schemas.CREATE_BODY
    )
    async def create_video(request: Request, who: str = Depends(owner)):
        start = time.perf_counter()
        fields, files = await read_body(request, config)
        model = resolve_name(text(fields, "model", required=False), served)
        prompt = text(fields, "prompt")
        width, height = parse_size(fields.get("size"), model)
        params = {"seed": parse_seed(fields)}
        shots = parse_shots(fields, config, model)
        if shots:
            params["shots"] = shots
            seconds = sum(s["seconds"] for s in shots)
        else:
            limit = seconds_limit(config, model)
            seconds = parse_seconds(fields.get("seconds", str(min(4, limit))), limit, "seconds")
        reference = await read_reference(fields, files, config)
        if reference is not None:
            require_mode(model, "image", "input_reference")
        if len(shots) > 1:  # every later shot extends the video so far
            require_mode(model, "extend", "shots")
        moderation_ms = 0.0
        for p in [prompt] + [s["prompt"] for s in shots]:
            moderation_ms += await check_prompt(p)
        job = new_job(
            who, "storyboard" if shots else "create", model, prompt, (width, height), seconds, params
        )
        if reference is not None:
            params["input_reference"] = "input.png"
        response = await run_in_threadpool(submit, job, params, {"input.png": reference})
        return with_server_timing(response, start, moderation_ms)

    @app.post(
        "/v1/videos/{video_id}/remix",
        response_model=schemas.VideoObject,
        responses=ERRORS,
        openapi_extra=schemas.REMIX_BODY,
    )
    async def remix_video(video_id: str, request: Request, who: str = Depends(owner)):
        start = time.perf_counter()
        source = await run_in_threadpool(completed_source, video_id, who, "video_id")
        fields, _ = await read_body(request, config)
        prompt = text(fields, "prompt")
        model = resolve_name(source.model, served)
        require_mode(model, "edit", "video_id")
        check_source_seconds(int(source.seconds), model, "video_id")
        moderation_ms = await check_prompt(prompt)
        size = tuple(int(v) for v in source.size.split("x"))
        params = {"seed": parse_seed(fields), "source": {"id": source.id}}
        job = new_job(who, "remix", model, prompt, size, int(source.seconds), params)
        job.remixed_from = source.id
        response = await run_in_threadpool(submit, job, params, {})
        return with_server_timing(response, start, moderation_ms)

    @app.post(
        "/v1/videos/edits",
        response_model=schemas.VideoObject,
        responses=ERRORS,
        openapi_extra=schemas.EDIT_BODY,
    )
    async def edit_video(request: Request, who: str = Depends(owner)):
        start = time.perf_counter()
        fields, files = await read_body(request, config)
        prompt = text(fields, "prompt")
        source, upload, size, seconds = await read_source(fields, files, who)
        model = resolve_name(source.model if source else None, served)
        require_mode(model, "edit", "video")
        check_source_seconds(seconds, model, "video")
        moderation_ms = await check_prompt(prompt)
        size = size or closest_size(*upload[1], model.sizes)
        params = {
            "seed": parse_seed(fields),
            "source": {"id": source.id} if source else {"file": "source.mp4"},
        }
        job = new_job(who, "edit", model, prompt, size, seconds, params)
        uploads = {"source.mp4": upload[0] if upload else None}
        response = await run_in_threadpool(submit, job, params, uploads)
        return with_server_timing(response, start, moderation_ms)

    @app.post(
        "/v1/videos/extensions",
        response_model=schemas.VideoObject,
        responses=ERRORS,
        openapi_extra=schemas.EXTEND_BODY,
    )
    async def extend_video(request: Request, who: str = Depends(owner)):
        start = time.perf_counter()
        fields, files = await read_body(request, config)
        prompt = text(fields, "prompt")
        source, upload, size, seconds = await read_source(fields, files, who)
        model = resolve_name(source.model if source else None, served)
        require_mode(model, "extend", "video")
        added = parse_seconds(fields.get("seconds"), extension_limit(config, model), "seconds")
        moderation_ms = await check_prompt(prompt)
        size = size or closest_size(*upload[1], model.sizes)
        params = {
            "seed": parse_seed(fields),
            "source": {"id": source.id} if source else {"file": "source.mp4"},
            "extend_seconds": added,
        }
        job = new_job(who, "extend", model, prompt, size, seconds + added, params)
        uploads = {"source.mp4": upload[0] if upload else None}
        response = await run_in_threadpool(submit, job, params, uploads)
        return with_server_timing(response, start, moderation_ms)

    @app.get("/v1/videos", response_model=schemas.VideoList, responses=ERRORS)
    def list_videos(
        after: str | None = None, limit: int = 20, order: str = "desc", who: str = Depends(owner)
    ):
        if not 1 <= limit <= 100:
            raise ApiError(
                400,
                f"limit {limit} is out of range; it must be 1 to 100",
                param="limit",
                code="invalid_value",
            )
        if order not in ("asc", "desc"):
            raise ApiError(
                400, f"order {order!r} is not valid; use 'asc' or 'desc'", param="order", code="invalid_value"
            )
        if after is not None:
            check_id(after, VIDEO_ID, "after")
        page = store.list(who, after, limit, order)
        if page is None:
            raise ApiError(400, f"after: no video with id {after!r}", param="after", code="invalid_value")
        data = [video_object(j) for j in page.jobs]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": page.has_more}

    @app.get("/v1/videos/characters/{character_id}", response_model=schemas.CharacterObject, responses=ERRORS)
    def get_character(character_id: str, who: str = Depends(owner)):
        check_id(character_id, CHARACTER_ID, "character_id")
        character = store.get_character(character_id, who)
        if character is None:
            raise ApiError(
                404, f"No character found with id {character_id!r}.", param="character_id", code="not_found"
            )
        return character_object(character)

    @app.post(
        "/v1/videos/characters",
        response_model=schemas.CharacterObject,
        responses=ERRORS,
        openapi_extra=schemas.CHARACTER_BODY,
    )
    async def create_character(request: Request, who: str = Depends(owner)):
        fields, files = await read_body(request, config)
        name = text(fields, "name")
        upload = files.get("video")
        if upload is None:
            raise ApiError(
                400,
                "video: upload a video file (multipart field 'video')",
                param="video",
                code="missing_required_parameter",
            )
        data = await read_upload(upload, config, "video")
        await run_in_threadpool(check_video, data, upload.content_type or "", "video")
        character = Character(id=new_id("char"), owner=who, name=name[:256], created_at=time.time())
        path = config.character_path(character.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(write_bytes_atomic, path, data)
        await run_in_threadpool(store.add_character, character)
        return character_object(character)

    @app.get("/v1/videos/{video_id}", response_model=schemas.VideoObject, responses=ERRORS)
    async def retrieve_video(video_id: str, who: str = Depends(owner)):
        # clients polling: most of the API's requests. async, so SQLite's read runs in place (see `read`)
        job = await read(find, video_id, who)
        return JSONResponse(video_object(job), headers=poll_headers(job))

    @app.delete("/v1/videos/{video_id}", response_model=schemas.VideoDeleted, responses=ERRORS)
    def delete_video(video_id: str, who: str = Depends(owner)):
        check_id(video_id, VIDEO_ID, "video_id")
        if not store.delete(video_id, who):
            raise ApiError(404, f"No video found with id {video_id!r}.", param="video_id", code="not_found")
        shutil.rmtree(config.video_dir(video_id), ignore_errors=True)
        return {"id": video_id, "deleted": True, "object": "video.deleted"}

    @app.get(
        "/v1/videos/{video_id}/content",
        responses={**ERRORS, 200: {"content": {"video/mp4": {}, "image/png": {}}}},
        response_class=FileResponse,
    )
    def download_video(video_id: str, variant: str = "video", who: str = Depends(owner)):
        if variant not in VARIANTS:
            raise ApiError(
                400,
                f"variant {variant!r} is not valid; use one of {', '.join(VARIANTS)}",
                param="variant",
                code="invalid_value",
            )
        job = find(video_id, who)
        if job.status != "completed":
            raise ApiError(
                400,
                f"video {video_id} is {job.status}; content exists once it is completed",
                param="video_id",
                code="video_not_ready",
            )
        name, media_type = VARIANTS[variant]
        path = config.video_dir(video_id) / name
        if not path.is_file():
            raise ApiError(404, f"video {video_id} has no {variant} file", param="variant", code="not_found")
        return FileResponse(path, media_type=media_type, filename=f"{video_id}{path.suffix}")

    @app.get("/v1/models", response_model=schemas.ModelList, responses=ERRORS)
    def list_models(who: str = Depends(owner)):
        data = [model_object(m, config) for m in served.values()]
        return {"object": "list", "data": data}

    # --- web page -----------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204)

    @app.get("/healthz", include_in_schema=False)
    def health():
        return {"status": "ok"}

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    describe = app.openapi

    def openapi() -> dict:
        """The spec without FastAPI's default 422: validation errors here are OpenAI-style 400s."""
        spec = describe()
        for operations in spec["paths"].values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        return spec

    app.openapi = openapi

    # --- helpers that need the store or config --------------------------------------------------------

    async def read(fn, *args):
        """`fn(*args)`, a store read: in place on SQLite, where it is a ~0.05 ms call inside this process that
        never waits (WAL: readers do not wait for the writer), so the hop to a thread-pool thread and back
        would cost more CPU than the read; in the thread pool on PostgreSQL, where it is a round trip to
        another process that must not hold up the event loop."""
        if store.is_postgres:
            return await run_in_threadpool(fn, *args)
        return fn(*args)

    def find(video_id: str, who: str) -> Row:
        check_id(video_id, VIDEO_ID, "video_id")
        job = store.view(video_id, who)
        if job is None:
            raise ApiError(404, f"No video found with id {video_id!r}.", param="video_id", code="not_found")
        return job

    def completed_source(video_id: str, who: str, param: str) -> Row:
        check_id(video_id, VIDEO_ID, param)
        job = store.view(video_id, who)
        if job is None:
            raise ApiError(404, f"No video found with id {video_id!r}.", param=param, code="not_found")
        if job.status != "completed":
            raise ApiError(
                400,
                f"video {video_id} is {job.status}; only completed videos can be used",
                param=param,
                code="video_not_ready",
            )
        return job

    async def read_source(fields: dict, files: dict, who: str):
        """The `video` of an edit or extension: (source job, None, size, seconds) or (None, (bytes, (w, h)), None, seconds)."""
        if "video" in files:
            upload = files["video"]
            data = await read_upload(upload, config, "video")
            frames, fps = await run_in_threadpool(check_video, data, upload.content_type or "", "video")
            length = len(frames) / fps
            if length > config.max_seconds + 0.5:  # the job would be recorded shorter than the video it edits
                raise ApiError(
                    400,
                    f"video: the upload is {length:.1f} s long; this server takes videos of at most "
                    f"{config.max_seconds} s",
                    param="video",
                    code="invalid_value",
                )
            seconds = max(1, min(config.max_seconds, round(length)))
            return None, (data, (frames.shape[2], frames.shape[1])), None, seconds
        ref = fields.get("video")
        video_id = ref.get("id") if isinstance(ref, dict) else ref
        if not isinstance(video_id, str) or not video_id:
            raise ApiError(
                400,
                'video: give {"id": "video_..."} of a completed video, or upload a video file',
                param="video",
                code="missing_required_parameter",
            )
        source = await run_in_threadpool(completed_source, video_id, who, "video")
        return source, None, tuple(int(v) for v in source.size.split("x")), int(source.seconds)

    def submit(job: SimpleNamespace, params: dict, uploads: dict[str, bytes | None]) -> JSONResponse:
        start = time.perf_counter()
        folder = config.video_dir(job.id)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in uploads.items():
            if data is not None:
                write_bytes_atomic(folder / name, data)
        job.params = json.dumps(params)
        if not store.add(job, max_active=config.max_active_jobs):  # counts and inserts in one transaction
            shutil.rmtree(folder, ignore_errors=True)
            message = f"This key already has {config.max_active_jobs} queued or running videos; wait for one to finish."
            raise ApiError(
                429, message, code="too_many_active_jobs", type="requests", headers={"retry-after": "5"}
            )
        timing = {"server-timing": f"store;dur={(time.perf_counter() - start) * 1000:.1f}"}
        return JSONResponse(video_object(job), headers={**poll_headers(job), **timing})

    def poll_headers(job: Job | Row | SimpleNamespace) -> dict:
        return (
            {"openai-poll-after-ms": str(config.poll_after_ms)}
            if job.status in ("queued", "in_progress")
            else {}
        )

    return app


def with_server_timing(response: JSONResponse, start: float, moderation_ms: float) -> JSONResponse:
    """Add the prompt check's and the whole request's time to the `server-timing` header that `submit` set
    (W3C Server-Timing: `moderation;dur=12.3, store;dur=1.1, total;dur=15.0`, milliseconds), so a client
    can tell where a create's latency went: the prompt check, the database, or waiting for the server."""
    total_ms = (time.perf_counter() - start) * 1000
    store = response.headers.get("server-timing")
    timings = [f"moderation;dur={moderation_ms:.1f}", store, f"total;dur={total_ms:.1f}"]
    response.headers["server-timing"] = ", ".join(t for t in timings if t)
    return response


# --- response bodies -----------------------------------------------------------------------------------


def new_job(
    owner: str, kind: str, model: ServedModel, prompt: str, size, seconds: int, params: dict
) -> SimpleNamespace:
    """A job to store: every column of Job as a plain attribute (JobStore.add takes any such object). Not
    an ORM Job, whose instrumented attributes cost ~0.1 ms of CPU per create and are never used here."""
    fields = dict(
        id=new_id("video"),
        owner=owner,
        kind=kind,
        status="queued",
        progress=0,
        model=model.api_name,
        prompt=prompt,
        size=f"{size[0]}x{size[1]}",
        seconds=str(seconds),
        params=json.dumps(params),
        created_at=time.time(),
        attempts=0,
    )
    return SimpleNamespace(**(JOB_COLUMNS | fields))


def video_object(job: Job | Row | SimpleNamespace) -> dict:
    """The OpenAI Video body of a job (an ORM Job, a row from JobStore.view, or a new_job)."""
    error = {"code": job.error_code, "message": job.error_message or ""} if job.status == "failed" else None
    return {
        "id": job.id,
        "object": "video",
        "created_at": int(job.created_at),
        "completed_at": int(job.completed_at) if job.completed_at and job.status == "completed" else None,
        "expires_at": None,
        "error": error,
        "model": job.model,
        "progress": job.progress,
        "prompt": job.prompt,
        "remixed_from_video_id": job.remixed_from,
        "seconds": job.seconds,
        "size": job.size,
        "status": job.status,
        "caption": job.caption,
        "expansion": json.loads(job.expansion) if job.expansion else None,
    }


def character_object(character: Character) -> dict:
    return {"id": character.id, "created_at": int(character.created_at), "name": character.name}


def model_object(model: ServedModel, config: ServeConfig) -> dict:
    return {
        "id": model.api_name,
        "object": "model",
        "created": 0,
        "owned_by": "haneul",
        "local_model": model.name,
        "sizes": model.size_names(),
        "seconds": [str(s) for s in range(1, seconds_limit(config, model) + 1)],
        "extend_seconds": [str(s) for s in range(1, extension_limit(config, model) + 1)],
        "fps": model.fps,
        "modes": model.modes,
    }


# --- errors ----------------------------------------------------------------------------------------------


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, e: ApiError):
        return error_response(e.status, e.message, e.type, e.param, e.code, e.headers)

    @app.exception_handler(InputError)
    async def input_error(_request: Request, e: InputError):
        return error_response(400, str(e), "invalid_request_error", e.param, "invalid_value")

    @app.exception_handler(ModerationBlocked)
    async def moderation(_request: Request, e: ModerationBlocked):
        message = f"Your request was blocked by the usage policy ({e.category}): {e.message}"
        return error_response(400, message, "invalid_request_error", "prompt", "moderation_blocked")

    @app.exception_handler(RequestValidationError)
    async def validation(_request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        param = str(first.get("loc", ["", "?"])[-1])
        return error_response(
            400,
            f"{param}: {first.get('msg', 'invalid value')}",
            "invalid_request_error",
            param,
            "invalid_value",
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        message = f"{request.method} {request.url.path}: {e.detail}"
        return error_response(
            e.status_code, message, "invalid_request_error", None, None, getattr(e, "headers", None)
        )

    @app.exception_handler(Exception)
    async def internal(_request: Request, e: Exception):
        return error_response(
            500, f"internal error: {type(e).__name__}", "server_error", None, "internal_error"
        )
