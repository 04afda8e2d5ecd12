"""Settings shared by the API process and the workers: where jobs and files live, limits, API keys."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from haneul.errors import InputError

KEYS_ENV = "HANEUL_API_KEYS"  # comma-separated keys, each `key` or `name=key`


@dataclass
class ServeConfig:
    data_dir: Path  # videos/<id>/..., characters/<id>.mp4; shared by API and workers (NFS on many machines)
    db_url: str = ""  # empty: a SQLite file in data_dir
    models: dict[str, str] = field(default_factory=dict)  # API model name -> model dir (or "default")
    api_keys: dict[str, str] = field(default_factory=dict)  # key -> owner name
    rate_limit: int = 600  # requests per minute per key
    max_active_jobs: int = 16  # queued + in_progress per key
    max_upload_mb: float = 50.0
    max_seconds: int = 20  # longest video (or extension segment) a request may ask for
    poll_after_ms: int = 1000  # the openai-poll-after-ms header: how long clients should wait between polls

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.db_url:
            self.db_url = f"sqlite:///{(self.data_dir / 'haneul.db').resolve()}"

    def video_dir(self, video_id: str) -> Path:
        return self.data_dir / "videos" / video_id

    def character_path(self, character_id: str) -> Path:
        return self.data_dir / "characters" / f"{character_id}.mp4"


def owner_of(key: str) -> str:
    """A stable name for a key that is not the key itself (it is stored in the database)."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def parse_keys(lines: list[str]) -> dict[str, str]:
    """`key` or `name=key` entries (blank lines and # comments skipped) -> {key: owner name}."""
    keys = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, key = line.partition("=")
        key = key.strip() if sep else name
        if len(key) < 16:
            raise InputError(
                f"API key {key[:4]!r}... is {len(key)} characters; use at least 16", param="api_keys"
            )
        keys[key] = name.strip() if sep else owner_of(key)
    return keys


def load_keys(keys_file: Path | None, data_dir: Path) -> tuple[dict[str, str], str | None]:
    """Keys from `keys_file` and $HANEUL_API_KEYS; with neither, one generated key kept in data_dir.

    Returns (keys, generated key or None) so the caller can print a generated key once.
    """
    lines = os.environ.get(KEYS_ENV, "").split(",")
    if keys_file is not None:
        if not keys_file.is_file():
            raise InputError(f"API keys file {str(keys_file)!r} does not exist", param="api_keys_file")
        lines += keys_file.read_text().splitlines()
    keys = parse_keys(lines)
    if keys:
        return keys, None
    generated = data_dir / "api_key.txt"
    if not generated.exists():
        generated.write_text(f"sk-haneul-{secrets.token_urlsafe(24)}\n")
        generated.chmod(0o600)
    key = generated.read_text().strip()
    return parse_keys([key]), key
