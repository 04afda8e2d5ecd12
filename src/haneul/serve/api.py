"""The OpenAI-compatible Videos API (FastAPI): every route `client.videos` of the `openai` SDK calls.

The API only validates, stores and serves: a request becomes a row in the job store and its uploads
become files; workers (separate processes, see worker.py) do the generation. So this process never
imports torch and answers in milliseconds while the workers keep every core busy.

Errors always have OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import shutil
import threading
import time
from collections import deque
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from haneul.errors import InputError, ModerationBlocked
from haneul.serve import schemas
from haneul.serve.config import ServeConfig
from haneul.serve.media import check_image, check_video, closest_size, write_bytes_atomic
from haneul.serve.models import ServedModel, resolve_name
from haneul.serve.prompt_check import PromptChecker
from haneul.serve.store import CHARACTER_ID, VIDEO_ID, Character, Job, JobStore, new_id

STATIC_DIR = Path(__file__).parent / "static"
VARIANTS = {"video": ("video.mp4", "video/mp4"), "thumbnail": ("thumbnail.png", "image/png")}
VARIANTS["spritesheet"] = ("spritesheet.png", "image/png")
ERRORS = {status: {"model": schemas.ErrorResponse} for status in (400, 401, 404, 413, 429)}
MAX_PROMPT = 4000
BEARER = HTTPBearer(auto_error=False)  # Authorization: Bearer <key>; missing keys get our own 401


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None, **kw):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = kw.get("type", "invalid_request_error")
        self.headers = kw.get("headers")


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
    app.router.on_startup.append(checker.wait_ready)  # answer requests only once prompts can be checked
    app.router.on_shutdown.append(checker.close)

    async def check_prompt(prompt: str) -> None:
        await run_in_threadpool(checker.check, prompt)

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
        fields, files = await read_body(request, config)
        model = resolve_name(text(fields, "model", required=False), served)
        prompt = text(fields, "prompt")
        width, height = parse_size(fields.get("size"), model)
        params = {"seed": parse_seed(fields)}
        shots = parse_shots(fields, config)
        if shots:
            params["shots"] = shots
            seconds = sum(s["seconds"] for s in shots)
        else:
            seconds = parse_seconds(fields.get("seconds", str(min(4, config.max_seconds))), config, "seconds")
        reference = await read_reference(fields, files, config)
        for p in [prompt] + [s["prompt"] for s in shots]:
            await check_prompt(p)
        job = new_job(
            who, "storyboard" if shots else "create", model, prompt, (width, height), seconds, params
        )
        if reference is not None:
            params["input_reference"] = "input.png"
        return await run_in_threadpool(submit, job, params, {"input.png": reference})

    @app.post(
        "/v1/videos/{video_id}/remix",
        response_model=schemas.VideoObject,
        responses=ERRORS,
        openapi_extra=schemas.REMIX_BODY,
    )
    async def remix_video(video_id: str, request: Request, who: str = Depends(owner)):
        source = await run_in_threadpool(completed_source, video_id, who, "video_id")
        fields, _ = await read_body(request, config)
        prompt = text(fields, "prompt")
        await check_prompt(prompt)
        model = resolve_name(source.model, served)
        size = tuple(int(v) for v in source.size.split("x"))
        params = {"seed": parse_seed(fields), "source": {"id": source.id}}
        job = new_job(who, "remix", model, prompt, size, int(source.seconds), params)
        job.remixed_from = source.id
        return await run_in_threadpool(submit, job, params, {})

    @app.post(
        "/v1/videos/edits",
        response_model=schemas.VideoObject,
        responses=ERRORS,
        openapi_extra=schemas.EDIT_BODY,
    )
    async def edit_video(request: Request, who: str = Depends(owner)):
        fields, files = await read_body(request, config)
        prompt = text(fields, "prompt")
        source, upload, size, seconds = await read_source(fields, files, who)
        await check_prompt(prompt)
        model = resolve_name(source.model if source else None, served)
        size = size or closest_size(*upload[1], model.sizes)
        params = {
            "seed": parse_seed(fields),
            "source": {"id": source.id} if source else {"file": "source.mp4"},
        }
        job = new_job(who, "edit", model, prompt, size, seconds, params)
        return await run_in_threadpool(submit, job, params, {"source.mp4": upload[0] if upload else None})

    @app.post(
        "/v1/videos/extensions",
        response_model=schemas.VideoObject,
        responses=ERRORS,
        openapi_extra=schemas.EXTEND_BODY,
    )
    async def extend_video(request: Request, who: str = Depends(owner)):
        fields, files = await read_body(request, config)
        prompt = text(fields, "prompt")
        added = parse_seconds(fields.get("seconds"), config, "seconds")
        source, upload, size, seconds = await read_source(fields, files, who)
        await check_prompt(prompt)
        model = resolve_name(source.model if source else None, served)
        size = size or closest_size(*upload[1], model.sizes)
        params = {
            "seed": parse_seed(fields),
            "source": {"id": source.id} if source else {"file": "source.mp4"},
            "extend_seconds": added,
        }
        job = new_job(who, "extend", model, prompt, size, seconds + added, params)
        return await run_in_threadpool(submit, job, params, {"source.mp4": upload[0] if upload else None})

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
    def retrieve_video(video_id: str, who: str = Depends(owner)):
        job = find(video_id, who)
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

    def find(video_id: str, who: str) -> Job:
        check_id(video_id, VIDEO_ID, "video_id")
        job = store.get(video_id, who)
        if job is None:
            raise ApiError(404, f"No video found with id {video_id!r}.", param="video_id", code="not_found")
        return job

    def completed_source(video_id: str, who: str, param: str) -> Job:
        check_id(video_id, VIDEO_ID, param)
        job = store.get(video_id, who)
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
            seconds = max(1, min(config.max_seconds, round(len(frames) / fps)))
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

    def submit(job: Job, params: dict, uploads: dict[str, bytes | None]) -> JSONResponse:
        if store.count_active(job.owner) >= config.max_active_jobs:
            message = f"This key already has {config.max_active_jobs} queued or running videos; wait for one to finish."
            raise ApiError(
                429, message, code="too_many_active_jobs", type="requests", headers={"retry-after": "5"}
            )
        folder = config.video_dir(job.id)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in uploads.items():
            if data is not None:
                write_bytes_atomic(folder / name, data)
        job.params = json.dumps(params)
        store.add(job)
        return JSONResponse(video_object(job), headers=poll_headers(job))

    def poll_headers(job: Job) -> dict:
        return (
            {"openai-poll-after-ms": str(config.poll_after_ms)}
            if job.status in ("queued", "in_progress")
            else {}
        )

    return app


# --- request parsing -----------------------------------------------------------------------------------


async def read_body(request: Request, config: ServeConfig) -> tuple[dict, dict[str, UploadFile]]:
    """JSON or multipart body -> (fields, files). Multipart keys like `video[id]` become nested dicts."""
    cap = int(config.max_upload_mb * 1024 * 1024)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap + 65536:  # room for the multipart framing
        raise ApiError(
            413,
            f"request body is {int(length)} bytes; uploads are limited to {config.max_upload_mb:g} MB",
            code="upload_too_large",
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=4, max_fields=64)
        except Exception as e:  # malformed multipart: the parser's own message says what
            raise ApiError(400, f"cannot parse the form body: {e}", code="invalid_body") from e
        fields: dict = {}
        files: dict[str, UploadFile] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = value
            else:
                base, _, sub = key.partition("[")
                if sub.endswith("]"):
                    nested = fields.setdefault(base, {})
                    if isinstance(nested, dict):
                        nested[sub[:-1]] = value
                else:
                    fields[key] = value
        return fields, files
    if content_type not in ("application/json", ""):
        raise ApiError(
            400,
            f"content type {content_type!r} is not supported; send application/json or multipart/form-data",
            code="invalid_body",
        )
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the body is not valid JSON: {e}", code="invalid_body") from e
    if not isinstance(body, dict):
        raise ApiError(400, "the JSON body must be an object", code="invalid_body")
    return body, {}


async def read_upload(upload: UploadFile, config: ServeConfig, param: str) -> bytes:
    cap = int(config.max_upload_mb * 1024 * 1024)
    data = await upload.read(cap + 1)
    if len(data) > cap:
        raise ApiError(
            413,
            f"{param} is over the {config.max_upload_mb:g} MB upload limit",
            param=param,
            code="upload_too_large",
        )
    return data


async def read_reference(fields: dict, files: dict, config: ServeConfig) -> bytes | None:
    """`input_reference` (an uploaded image, or {"image_url": "data:..."}) checked and re-encoded as PNG."""
    if "input_reference" in files:
        upload = files["input_reference"]
        data = await read_upload(upload, config, "input_reference")
        content_type = upload.content_type or ""
    elif "input_reference" in fields:
        ref = fields["input_reference"]
        url = ref.get("image_url") if isinstance(ref, dict) else None
        if not isinstance(url, str):
            raise ApiError(
                400,
                'input_reference: upload an image file, or give {"image_url": "data:image/png;base64,..."} (file_id is not supported)',
                param="input_reference",
                code="invalid_value",
            )
        match = re.match(r"^data:([\w/+.-]+);base64,(.*)$", url, re.DOTALL)
        if match is None:
            raise ApiError(
                400,
                "input_reference.image_url must be a base64 data: URL; this server fetches no remote URLs",
                param="input_reference",
                code="invalid_value",
            )
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except binascii.Error as e:
            raise ApiError(
                400,
                f"input_reference.image_url is not valid base64: {e}",
                param="input_reference",
                code="invalid_value",
            ) from e
        content_type = match.group(1)
    else:
        return None
    image = await run_in_threadpool(check_image, data, content_type, "input_reference")
    return await run_in_threadpool(png_bytes, image)


def png_bytes(image) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def text(fields: dict, name: str, required: bool = True) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(
                400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
            )
        return None
    if not isinstance(value, str):
        raise ApiError(
            400, f"{name} must be a string, not {type(value).__name__}", param=name, code="invalid_type"
        )
    if name == "prompt" and len(value) > MAX_PROMPT:
        raise ApiError(
            400,
            f"prompt is {len(value)} characters; the limit is {MAX_PROMPT}",
            param=name,
            code="invalid_value",
        )
    if not value.strip():
        raise ApiError(400, f"{name} is blank", param=name, code="invalid_value")
    return value


def parse_size(value, model: ServedModel) -> tuple[int, int]:
    if value is None or value == "":
        return model.sizes[0]
    if not isinstance(value, str) or value not in model.size_names():
        raise ApiError(
            400,
            f"size {value!r} is not supported by {model.api_name} ({model.name}); supported: {', '.join(model.size_names())}",
            param="size",
            code="invalid_value",
        )
    w, h = value.split("x")
    return int(w), int(h)


def parse_seconds(value, config: ServeConfig, param: str) -> int:
    valid = f'supported: whole seconds from 1 to {config.max_seconds}, as a string such as "4"'
    if value is None or value == "":
        raise ApiError(
            400,
            f"Missing required parameter: '{param}'; {valid}",
            param=param,
            code="missing_required_parameter",
        )
    text_value = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text_value is None or not text_value.isdigit() or not 1 <= int(text_value) <= config.max_seconds:
        raise ApiError(400, f"{param} {value!r} is not supported; {valid}", param=param, code="invalid_value")
    return int(text_value)


def parse_seed(fields: dict) -> int:
    """The optional `seed` (a haneul extension); a fresh random one when absent, recorded with the job."""
    value = fields.get("seed")
    if value is None or value == "":
        return int.from_bytes(__import__("os").urandom(4), "little")
    text_value = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text_value.isdigit() or int(text_value) >= 2**32:
        raise ApiError(
            400,
            f"seed {value!r} must be a whole number from 0 to {2**32 - 1}",
            param="seed",
            code="invalid_value",
        )
    return int(text_value)


def parse_shots(fields: dict, config: ServeConfig) -> list[dict]:
    """The optional storyboard: [{"prompt", "seconds"}, ...] rendered as one continuous video."""
    shots = fields.get("shots")
    if shots is None:
        return []
    if isinstance(shots, str):
        try:
            shots = json.loads(shots)
        except ValueError as e:
            raise ApiError(400, f"shots is not valid JSON: {e}", param="shots", code="invalid_value") from e
    if (
        not isinstance(shots, list)
        or not 1 <= len(shots) <= 12
        or not all(isinstance(s, dict) for s in shots)
    ):
        raise ApiError(
            400,
            'shots must be a list of 1 to 12 objects {"prompt", "seconds"}',
            param="shots",
            code="invalid_value",
        )
    out = [
        {"prompt": text(s, "prompt"), "seconds": parse_seconds(s.get("seconds"), config, "shots.seconds")}
        for s in shots
    ]
    total = sum(s["seconds"] for s in out)
    if total > config.max_seconds * 3:
        raise ApiError(
            400,
            f"shots add up to {total} s; the limit is {config.max_seconds * 3} s",
            param="shots",
            code="invalid_value",
        )
    return out


def check_id(value: str, pattern: re.Pattern, param: str) -> None:
    """Ids become folder names: only well-formed ones get near the disk (no path traversal)."""
    if not pattern.fullmatch(value):
        kind = "video_" if pattern is VIDEO_ID else "char_"
        raise ApiError(
            400,
            f"{param} {value[:80]!r} is not a valid id (expected {kind} followed by 32 hex digits)",
            param=param,
            code="invalid_value",
        )


# --- response bodies -----------------------------------------------------------------------------------


def new_job(owner: str, kind: str, model: ServedModel, prompt: str, size, seconds: int, params: dict) -> Job:
    return Job(
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


def video_object(job: Job) -> dict:
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
        "seconds": [str(s) for s in range(1, config.max_seconds + 1)],
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
