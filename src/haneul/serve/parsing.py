"""Reading Videos API requests: JSON or multipart bodies, uploads, and every field's check.

Each check raises `ApiError` with OpenAI's error fields (status, message, param, code) naming the bad
value and what would have been valid.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import re

import numpy as np
from fastapi import Request
from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from haneul.serve.config import ServeConfig
from haneul.serve.media import check_image
from haneul.serve.models import EXTEND_OVERLAP, ServedModel
from haneul.serve.store import VIDEO_ID

MAX_PROMPT = 4000


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None, **kw):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = kw.get("type", "invalid_request_error")
        self.headers = kw.get("headers")


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


def png_bytes(image: np.ndarray) -> bytes:
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


def require_mode(model: ServedModel, mode: str, param: str) -> None:
    """A 400 now, not a failed job later, when the model cannot do what the request asks (`ModelInfo.modes`)."""
    if mode not in model.modes:
        raise ApiError(
            400,
            f"{model.api_name} ({model.name}) cannot do {mode}; it supports: {', '.join(model.modes)}",
            param=param,
            code="invalid_value",
        )


def seconds_limit(config: ServeConfig, model: ServedModel) -> int:
    """The longest video a request may ask of `model`: the server's cap, or the model's own if shorter."""
    return max(1, min(config.max_seconds, int(model.max_seconds)))


def extension_limit(config: ServeConfig, model: ServedModel) -> int:
    """The longest segment an extension may add: the model makes the source's last EXTEND_OVERLAP frames
    again with it (they are its conditioning), so they come off the model's own length."""
    room = model.max_seconds - (EXTEND_OVERLAP - 1) / model.fps
    return max(1, min(config.max_seconds, int(room)))


def check_source_seconds(seconds: int, model: ServedModel, param: str) -> None:
    """A remix or edit re-renders its whole source, so the source must be no longer than `model` makes (an
    extension's result can be: it is the source plus the new segment). Else the job failed in the worker."""
    if seconds > model.max_seconds:
        raise ApiError(
            400,
            f"{param}: the video is {seconds} s long; model {model.api_name!r} re-renders at most "
            f"{model.max_seconds:g} s",
            param=param,
            code="invalid_value",
        )


def parse_seconds(value, limit: int, param: str) -> int:
    valid = f'supported: whole seconds from 1 to {limit}, as a string such as "4"'
    if value is None or value == "":
        raise ApiError(
            400,
            f"Missing required parameter: '{param}'; {valid}",
            param=param,
            code="missing_required_parameter",
        )
    text_value = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text_value is None or not text_value.isdigit() or not 1 <= int(text_value) <= limit:
        raise ApiError(400, f"{param} {value!r} is not supported; {valid}", param=param, code="invalid_value")
    return int(text_value)


def parse_seed(fields: dict) -> int:
    """The optional `seed` (a haneul extension); a fresh random one when absent, recorded with the job."""
    value = fields.get("seed")
    if value is None or value == "":
        return int.from_bytes(os.urandom(4), "little")
    text_value = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text_value.isdigit() or int(text_value) >= 2**32:
        raise ApiError(
            400,
            f"seed {value!r} must be a whole number from 0 to {2**32 - 1}",
            param="seed",
            code="invalid_value",
        )
    return int(text_value)


def parse_shots(fields: dict, config: ServeConfig, model: ServedModel) -> list[dict]:
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
    limit = seconds_limit(config, model)
    out = [
        {"prompt": text(s, "prompt"), "seconds": parse_seconds(s.get("seconds"), limit, "shots.seconds")}
        for s in shots
    ]
    total = sum(s["seconds"] for s in out)
    whole = min(config.max_seconds * 3, int(model.max_seconds))  # the shots are one video of the model's
    if total > whole:
        raise ApiError(
            400,
            f"shots add up to {total} s; the limit is {whole} s",
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
