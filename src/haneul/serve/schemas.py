"""Request and response bodies of the Videos API, as the `openai` SDK's types define them.

The response models are what FastAPI validates every answer against and what the served OpenAPI spec
shows; the request bodies are described for the spec here and parsed by hand in `api.py`, because one
route takes both JSON and multipart (the SDK sends multipart, other clients JSON).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class VideoError(BaseModel):
    code: str
    message: str


class Expansion(BaseModel):
    """How the prompt became the caption the model saw (haneul.prompting: recaptioning)."""

    caption: str
    unknown_words: list[str]  # prompt words outside the model's vocabulary, left out of the caption
    source: str  # "builtin" (the model's world expander), "llm", "fallback" (the prompt as is), "mixed"
    warnings: list[str]


class VideoObject(BaseModel):
    id: str
    object: Literal["video"] = "video"
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    error: VideoError | None = None
    model: str
    progress: int = Field(ge=0, le=100)
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    seconds: str
    size: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    # haneul extensions (OpenAI's Video has no such fields; the SDK keeps them in `model_extra`), set once
    # completed: the caption the model actually saw, and how the prompt was expanded into it (null: the
    # model does not expand prompts, so the caption is the prompt).
    caption: str | None = Field(default=None, description="haneul extension: the caption the model saw")
    expansion: Expansion | None = Field(default=None, description="haneul extension: prompt expansion")


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoObject]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    deleted: bool
    object: Literal["video.deleted"] = "video.deleted"


class CharacterObject(BaseModel):
    id: str | None = None
    created_at: int
    name: str | None = None


class ModelObject(BaseModel):
    """OpenAI's model object, plus what this server accepts for it (sizes, seconds)."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "haneul"
    local_model: str
    sizes: list[str]
    seconds: list[str]
    extend_seconds: list[str]  # an extension's segment: less, as the model makes the continued frames again
    fps: float
    modes: list[str]


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


# --- request bodies (documentation for the spec; parsing is in api.py) ------------------------------

_REF = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
_BINARY = {"type": "string", "format": "binary"}
_SECONDS = {"type": "string", "examples": ["4", "8", "12"]}
_SIZE = {"type": "string", "examples": ["256x256"]}
_SEED = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1, "description": "haneul extension"}
_SHOTS = {
    "type": "array",
    "description": "haneul extension: a storyboard rendered as one video, each shot continuing the last",
    "items": {
        "type": "object",
        "properties": {"prompt": {"type": "string"}, "seconds": _SECONDS},
        "required": ["prompt", "seconds"],
    },
}


def _body(json_props: dict, form_props: dict, required: list[str]) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": json_props, "required": required}
                },
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": form_props, "required": required}
                },
            },
        }
    }


_CREATE = {
    "prompt": {"type": "string"},
    "model": {"type": "string", "examples": ["sora-2", "sora-2-pro"]},
    "size": _SIZE,
    "seconds": _SECONDS,
    "seed": _SEED,
}
CREATE_BODY = _body(
    {
        **_CREATE,
        "input_reference": {"type": "object", "properties": {"image_url": {"type": "string"}}},
        "shots": _SHOTS,
    },
    {**_CREATE, "input_reference": _BINARY},
    ["prompt"],
)
EDIT_BODY = _body(
    {"prompt": {"type": "string"}, "video": _REF, "seed": _SEED},
    {"prompt": {"type": "string"}, "video": _BINARY, "seed": _SEED},
    ["prompt", "video"],
)
EXTEND_BODY = _body(
    {"prompt": {"type": "string"}, "seconds": _SECONDS, "video": _REF, "seed": _SEED},
    {"prompt": {"type": "string"}, "seconds": _SECONDS, "video": _BINARY, "seed": _SEED},
    ["prompt", "seconds", "video"],
)
REMIX_BODY = _body(
    {"prompt": {"type": "string"}, "seed": _SEED},
    {"prompt": {"type": "string"}, "seed": _SEED},
    ["prompt"],
)
CHARACTER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "video": _BINARY},
                    "required": ["name", "video"],
                }
            }
        },
    }
}
