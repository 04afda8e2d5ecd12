"""The LLM expander: any OpenAI-compatible chat-completions endpoint (a local llama.cpp, vLLM or Ollama
server) rewrites the user's prompt into a detailed caption, for prompts outside the world's vocabulary.

The system prompt tells the model to keep everything the prompt says and to write in the caption style
of the video model: the model card's caption section when it has one ("## Captions ..."), else the
world's style, followed by few-shot pairs (short prompt -> detailed caption, English and Korean) made by
the built-in world expander, so the LLM sees real training captions. When the endpoint fails (down,
timeout after retries, error status, malformed reply) the fallback expander is used and a warning says so.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from haneul.prompting.chat import ChatError, api_key_from_env, chat
from haneul.prompting.expand import Expander, Expansion, WorldExpander, fallback

WORLD_STYLE = (
    "One regular English paragraph in fixed sentence shapes. First the number of objects, the background "
    "and the light ('Two objects on green grass under a blue sky, in daylight.'), then the camera ('The "
    "camera is static.'), then one sentence per object: an article, size, colour and kind, where it starts "
    "in the view, what it does, how fast, in which direction, and when things happen in seconds. Left and "
    "right are the viewer's. With several objects, end with their order from left to right."
)
# Short prompts the few-shot examples are made from (the world expander writes their captions).
EXAMPLE_PROMPTS = (
    ("a red ball bounces on green grass", 0),
    ("파란 상자가 천천히 오른쪽으로 움직인다", 1),
    ("two stars collide at night", 2),
    ("a yellow car drives left on the sand while the camera pans left", 3),
)
MAX_CAPTION_CHARS = 2000


def card_style(card: str) -> str:
    """The model card's section about captions (a heading containing 'caption'), or ''."""
    lines = card.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"(#+)\s+.*caption", line, re.IGNORECASE)
        if m:
            level = len(m.group(1))
            body = []
            for rest in lines[i + 1 :]:
                h = re.match(r"(#+)\s", rest)
                if h and len(h.group(1)) <= level:
                    break
                body.append(rest)
            return "\n".join(body).strip()[:MAX_CAPTION_CHARS]
    return ""


@functools.cache
def world_examples(n: int = 3) -> tuple[tuple[str, str], ...]:
    """(short prompt, detailed caption) pairs from the world: what the bundled model was trained on."""
    expander = WorldExpander()
    return tuple((p, expander.expand(p, seed=s).caption) for p, s in EXAMPLE_PROMPTS[:n])


def system_prompt(card: str = "", seconds: float = 2.0) -> str:
    style = card_style(card) or WORLD_STYLE
    return (
        "You rewrite a short prompt for a text-to-video model into the detailed caption it was trained on.\n"
        "- Keep everything the prompt says: every object, count, colour, size, motion, direction, speed, "
        "place, camera move and light. Never contradict or drop any of it.\n"
        "- Fill in what the prompt leaves open with plain, concrete choices.\n"
        "- Write in English, whatever the prompt's language.\n"
        f"- The video lasts {seconds:.1f} s; any time you mention falls inside it.\n"
        "- Answer with the caption only: one paragraph, no preamble, no quotes.\n\n"
        f"Caption style:\n{style}"
    )


def build_messages(prompt: str, card: str = "", seconds: float = 2.0, examples: int = 3) -> list[dict]:
    """System prompt, few-shot turns (user: short prompt, assistant: caption), then the user's prompt."""
    messages = [{"role": "system", "content": system_prompt(card, seconds)}]
    for short, caption in world_examples(examples) if examples else ():
        messages += [{"role": "user", "content": short}, {"role": "assistant", "content": caption}]
    messages.append({"role": "user", "content": prompt})
    return messages


def clean_caption(text: str) -> str:
    """One paragraph: no code fences, wrapping quotes or 'Caption:' label; whitespace collapsed."""
    text = re.sub(r"^```\w*|```$", "", text.strip()).strip()
    text = re.sub(r"^(detailed )?caption:\s*", "", text, flags=re.IGNORECASE)
    text = " ".join(text.split())
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1].strip()
    return text[:MAX_CAPTION_CHARS]


@dataclass
class ChatExpander:
    """Expand prompts with a chat-completions endpoint; fall back to `fallback` (or the prompt) on failure."""

    url: str
    model: str = "default"  # llama.cpp ignores it; vLLM and Ollama need the served model's name
    api_key: str | None = None  # default: HANEUL_EXPANDER_API_KEY or OPENAI_API_KEY
    card: str = ""  # the video model's card: its caption section sets the style
    fallback: Expander | None = None  # the model's built-in expander; None: the prompt itself
    timeout: float = 30.0  # seconds per attempt
    retries: int = 2  # extra attempts after a connection error, timeout, 429 or 5xx
    temperature: float = 0.2
    examples: int = 3  # few-shot pairs

    def __post_init__(self) -> None:
        self.api_key = self.api_key or api_key_from_env()

    def expand(
        self,
        prompt: str,
        seed: int = 0,
        width: int = 128,
        height: int = 128,
        num_frames: int = 17,
        fps: float = 8.0,
    ) -> Expansion:
        seconds = max(num_frames - 1, 1) / fps
        messages = build_messages(prompt, self.card, seconds, self.examples)
        try:
            text = chat(
                self.url,
                self.model,
                messages,
                api_key=self.api_key,
                timeout=self.timeout,
                retries=self.retries,
                temperature=self.temperature,
                seed=seed,
            )
            caption = clean_caption(text)
            if not caption:
                raise ChatError(f"the reply holds no caption: {text[:200]!r}")
        except ChatError as e:
            return self._fall_back(prompt, str(e), seed, width, height, num_frames, fps)
        return Expansion(caption, [], "llm", [])

    def _fall_back(self, prompt: str, error: str, seed: int, *shape) -> Expansion:
        if self.fallback is None:
            return fallback(prompt, f"expander endpoint failed ({error}); the prompt is used as is")
        out = self.fallback.expand(prompt, seed, *shape)
        out.warnings.insert(0, f"expander endpoint failed ({error}); used the built-in expander instead")
        return out


def configure_expander(pipe, expand: bool = True, url: str | None = None, model: str = "default") -> None:
    """Set `pipe.expander` for a run: none (expand=False), the model's own, or a chat endpoint in front of it."""
    if not expand:
        pipe.expander = None
    elif url:
        card = getattr(pipe, "card", "")
        pipe.expander = ChatExpander(url, model, card=card, fallback=getattr(pipe, "expander", None))
