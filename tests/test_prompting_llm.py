"""The LLM expander against a real local HTTP server speaking chat completions (haneul.prompting.fake_server):
success, few-shot system prompt from the card, retries, timeout / malformed / down -> fallback with a warning."""

import socket
import time

import pytest

from haneul.prompting import ChatExpander, WorldExpander, expand_prompt
from haneul.prompting.chat import ChatError, ChatReplyError, chat, chat_url
from haneul.prompting.fake_server import FakeChatServer
from haneul.prompting.llm import card_style, clean_caption

CARD = """# my-model

Trained on city videos.

## Caption style

Start with the time of day, then the street, then every car from left to right.

## Scores

none yet
"""


@pytest.fixture
def server():
    with FakeChatServer(reply=lambda body: '"A red ball bounces on green grass in the morning."') as s:
        yield s


def test_success_sends_a_real_chat_request_with_style_and_few_shot_examples(server, monkeypatch):
    monkeypatch.setenv("HANEUL_EXPANDER_API_KEY", "sk-test")
    expander = ChatExpander(server.url, "qwen2.5-3b", card=CARD, fallback=WorldExpander())
    e = expand_prompt("빨간 공이 튄다", seed=7, expander=expander, num_frames=33, fps=8.0)
    assert e.source == "llm" and e.warnings == []
    assert e.caption == "A red ball bounces on green grass in the morning."  # quotes stripped
    body = server.requests[0]
    assert body["model"] == "qwen2.5-3b" and body["seed"] == 7
    system = body["messages"][0]
    assert system["role"] == "system"
    assert "every car from left to right" in system["content"] and "Scores" not in system["content"]
    assert "4.0 s" in system["content"]  # the video's duration bounds the times the LLM may mention
    roles = [m["role"] for m in body["messages"][1:]]
    assert roles == ["user", "assistant"] * 3 + ["user"]
    assert body["messages"][2]["content"].startswith("One object on")  # a real world training caption
    assert any(not m["content"].isascii() for m in body["messages"][1:-1:2])  # a Korean example prompt
    assert body["messages"][-1] == {"role": "user", "content": "빨간 공이 튄다"}
    assert server.headers[0]["Authorization"] == "Bearer sk-test"


def test_retries_server_errors_then_succeeds(server):
    server.fail_next = 2
    e = ChatExpander(server.url, retries=2, fallback=WorldExpander()).expand("a red ball")
    assert e.source == "llm" and len(server.requests) == 3


def test_errors_beyond_the_retries_fall_back_to_the_builtin_expander_with_a_warning(server):
    server.fail_next = 5
    e = ChatExpander(server.url, retries=1, fallback=WorldExpander()).expand("a red ball bounces", seed=2)
    assert len(server.requests) == 2
    assert e.source == "builtin" and e.caption == expand_prompt("a red ball bounces", 2).caption
    assert "expander endpoint failed" in e.warnings[0] and "HTTP 500" in e.warnings[0]


def test_timeout_falls_back_with_a_warning(server):
    server.delay = 1.5
    start = time.perf_counter()
    e = ChatExpander(server.url, timeout=0.3, retries=1, fallback=WorldExpander()).expand("a blue box spins")
    assert time.perf_counter() - start < 1.5  # two attempts of 0.3 s plus back-off, not the server's delay
    assert e.source == "builtin" and "no answer within 0.3 s" in e.warnings[0]
    assert "blue box" in e.caption


def test_malformed_reply_falls_back_at_once(server):
    server.malformed = True
    e = ChatExpander(server.url, retries=3, fallback=WorldExpander()).expand("a blue box spins")
    assert len(server.requests) == 1  # asking again would not help
    assert e.source == "builtin" and "malformed chat-completions reply" in e.warnings[0]


def test_endpoint_down_without_builtin_expander_uses_the_prompt():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    e = ChatExpander(f"http://127.0.0.1:{port}", retries=0).expand("a dragon over a castle")
    assert e.source == "fallback" and e.caption == "a dragon over a castle"
    assert "cannot connect" in e.warnings[0]


def test_chat_client_errors_and_urls(server):
    assert chat_url("http://h:1") == chat_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"
    assert chat(server.url, "m", [{"role": "user", "content": "hi"}]).startswith('"A red ball')
    server.malformed = True
    with pytest.raises(ChatReplyError):
        chat(server.url, "m", [{"role": "user", "content": "hi"}])
    with pytest.raises(ChatError, match="HTTP 404"):
        chat(server.url.replace("/v1", "/nope/v1"), "m", [{"role": "user", "content": "hi"}], retries=0)


def test_openai_sdk_accepts_the_fake_server(server):
    """The fake speaks the real protocol: the official SDK parses its answers."""
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.url, api_key="x")
    out = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content.startswith('"A red ball')


def test_card_style_and_clean_caption():
    assert card_style(CARD).startswith("Start with the time of day") and "Scores" not in card_style(CARD)
    assert card_style("# no captions here\n") == ""
    assert clean_caption('```\nCaption: "A  red\nball."\n```') == "A red ball."
