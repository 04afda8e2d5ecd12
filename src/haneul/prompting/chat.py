"""A minimal client for OpenAI-compatible chat-completions endpoints (llama.cpp, vLLM, Ollama, OpenAI).

Plain urllib, so expansion and captioning need no extra package. `chat(...)` POSTs
{"model", "messages", ...} to URL/v1/chat/completions and returns `choices[0].message.content`. Connection
errors, timeouts, HTTP 408/409/429 and 5xx are retried with a short exponential back-off; any other HTTP
error raises `ChatError` at once and a reply not in the chat-completions shape `ChatReplyError` (asking
again would not change either).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from haneul import __version__

API_KEY_ENV = ("HANEUL_EXPANDER_API_KEY", "OPENAI_API_KEY")  # the first one set is sent as a bearer token
RETRY_STATUS = (408, 409, 429)


class ChatError(Exception):
    """The endpoint failed (down, timeout, error status) or answered something unusable."""


class ChatReplyError(ChatError):
    """The endpoint answered, but not with a usable chat completion (malformed or empty)."""


def chat_url(url: str) -> str:
    """Accept a server root, its /v1, or the full chat-completions address."""
    url = url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


def api_key_from_env() -> str | None:
    return next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)


def chat(
    url: str,
    model: str,
    messages: list[dict],
    api_key: str | None = None,
    timeout: float = 30.0,
    retries: int = 2,
    backoff: float = 0.5,
    **params,
) -> str:
    """One chat completion; returns the assistant's text (see module docstring for errors and retries)."""
    body = json.dumps({"model": model, "messages": messages, **params}).encode()
    headers = {"Content-Type": "application/json", "User-Agent": f"haneul/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(chat_url(url), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code} {_error_text(e)}"
            if e.code in RETRY_STATUS or e.code >= 500:
                continue
            raise ChatError(last) from e
        except TimeoutError:
            last = f"no answer within {timeout:g} s"
            continue
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            last = (
                f"no answer within {timeout:g} s"
                if isinstance(reason, TimeoutError)
                else f"cannot connect: {reason}"
            )
            continue
        return completion_text(raw)
    raise ChatError(f"{chat_url(url)}: {last} (after {retries + 1} attempts)")


def completion_text(raw: bytes) -> str:
    """`choices[0].message.content` of a chat-completions reply; ChatError if the shape is wrong or empty."""
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise ChatReplyError(
            f"malformed chat-completions reply ({type(e).__name__}: {e}): {raw[:200]!r}"
        ) from e
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str) or not content.strip():
        raise ChatReplyError(f"empty reply from the chat endpoint: {raw[:200]!r}")
    return content.strip()


def _error_text(e: urllib.error.HTTPError) -> str:
    try:
        return e.read()[:200].decode("utf-8", "replace")
    except OSError:
        return str(e.reason)
