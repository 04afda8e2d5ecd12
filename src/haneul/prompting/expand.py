"""Prompt expansion (recaptioning at generation time, as in DALL-E 3 and Sora): a short prompt becomes a
detailed caption in the style the model was trained on.

`WorldExpander` is the built-in expander for models trained on the procedural world (haneul.json
`"expander": "world"`). It needs no network and is deterministic in the seed: it parses the prompt with the
world's own parser (English or Korean), fills what the prompt left open exactly as the world does for that
seed (`render_clip`: complete_spec, simulate, ground truth), and writes the world's detailed caption of
that scene. So everything the user said is kept, Korean prompts become English captions (the default text
encoder, all-MiniLM-L6-v2, is English-only: it splits Korean into jamo fragments and [UNK]s), and the caption is one the model
has seen the like of in training. Words outside the world's vocabulary are left out and reported in
`Expansion.unknown_words`; when nothing is understood the prompt itself is used, with a warning.

An expander is any object with `expand(prompt, seed=0, width=128, height=128, num_frames=17, fps=8.0)`
returning an `Expansion`; `haneul.prompting.llm.ChatExpander` is the other one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from haneul.errors import InputError

# The bundled model's default request: 128x128, 2 s at 8 fps (17 frames).
DEFAULT_SHAPE = {"width": 128, "height": 128, "num_frames": 17, "fps": 8.0}


@dataclass
class Expansion:
    """What the model sees instead of the user's prompt, and how it was made."""

    caption: str  # the detailed caption (or the prompt itself when expansion fell back)
    unknown_words: list[str] = field(default_factory=list)  # prompt words outside the model's vocabulary
    source: str = "builtin"  # "builtin" (world expander), "llm" (chat endpoint) or "fallback" (the prompt)
    warnings: list[str] = field(default_factory=list)  # one line each, for the CLI and the API

    def to_dict(self) -> dict:
        return asdict(self)


class Expander(Protocol):
    def expand(
        self,
        prompt: str,
        seed: int = 0,
        width: int = 128,
        height: int = 128,
        num_frames: int = 17,
        fps: float = 8.0,
    ) -> Expansion: ...


def fallback(prompt: str, reason: str, unknown_words: list[str] = (), warnings: list[str] = ()) -> Expansion:
    """The prompt itself, with the reason it was not expanded (after any earlier warnings)."""
    return Expansion(prompt.strip(), list(unknown_words), "fallback", [*warnings, reason])


def split_unknown(prompt: str) -> tuple[str, list[str]]:
    """(the prompt's known words joined, the words outside the world's vocabulary) - in prompt order.

    Mirrors the scan of `haneul.world.parse.parse_prompt`: a token is known if some vocabulary phrase starts
    at it (the phrase's tokens are then consumed) or it is a filler word.
    """
    from haneul.world import parse

    tokens = parse.tokenize(prompt)
    kept, unknown = [], []
    i = 0
    while i < len(tokens):
        n, occluder = parse._korean_occluder(tokens, i)
        m = None if occluder else parse._match(tokens, i, True) or parse._match(tokens, i, False)
        if occluder:
            kept += tokens[i : i + n]
            i += n
        elif m is not None:
            kept += tokens[i : i + m[1]]
            i += m[1]
        else:
            (kept if parse._is_stopword(tokens[i]) else unknown).append(tokens[i])
            i += 1
    return " ".join(kept), list(dict.fromkeys(unknown))


def _says_nothing(spec) -> bool:
    return not spec.objects and not any((spec.background, spec.camera, spec.light, spec.occluder))


class WorldExpander:
    """The built-in expander for models trained on the procedural world (see module docstring)."""

    def expand(
        self,
        prompt: str,
        seed: int = 0,
        width: int = 128,
        height: int = 128,
        num_frames: int = 17,
        fps: float = 8.0,
    ) -> Expansion:
        from haneul.world import parse_prompt, render_clip

        known, unknown = split_unknown(prompt)
        warnings = []
        if unknown:
            words = ", ".join(repr(w) for w in unknown)
            warnings.append(f"not in the model's vocabulary, left out: {words} (haneul world vocabulary)")
        try:
            spec = parse_prompt(known) if known else None
        except InputError as e:
            return fallback(prompt, f"not expanded: {_first_line(e)}", unknown, warnings)
        if spec is None or _says_nothing(spec):
            reason = (
                "not expanded: nothing in the prompt is in the model's vocabulary; the prompt is used as is"
            )
            return fallback(prompt, reason, unknown, warnings)
        try:
            # The world's own completion for this seed: the scene `haneul world render PROMPT --seed S` shows.
            clip = render_clip(spec, width, height, num_frames, fps, seed)
        except InputError as e:
            return fallback(prompt, f"not expanded: {_first_line(e)}", unknown, warnings)
        return Expansion(clip.caption, unknown, "builtin", warnings)


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0]


def expand_prompt(
    prompt: str,
    seed: int = 0,
    expander: Expander | None = None,
    *,
    width: int = 128,
    height: int = 128,
    num_frames: int = 17,
    fps: float = 8.0,
) -> Expansion:
    """Expand a short prompt into a detailed caption (default: the built-in world expander).

    width, height, num_frames and fps describe the video the caption is for (times in the caption fall
    inside it); the defaults are the bundled model's default request.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(
            "prompt is empty; describe the video, e.g. 'a red ball bounces on green grass'", "prompt"
        )
    expander = expander or WorldExpander()
    return expander.expand(
        prompt.strip(), seed=seed, width=width, height=height, num_frames=num_frames, fps=fps
    )


def model_expander(spec) -> Expander | None:
    """The built-in expander a model's haneul.json asks for (`"expander": "world"`), or None (no expansion)."""
    return builtin_expander(getattr(spec, "expander", "") or "")


def builtin_expander(name: str) -> Expander | None:
    if name == "world":
        return WorldExpander()
    if name:
        raise InputError(
            f"unknown expander {name!r} in the model's haneul.json; valid: 'world' or ''", "expander"
        )
    return None
