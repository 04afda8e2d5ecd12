"""Prompt moderation: refuse prompts that break the usage policy before any compute is spent.

Two parts, combined:

1. A curated, editable policy (`safety/policy/`): words that block on their own, benign phrases that are
   removed first ("killer whale", "naked eye"), context rules ("shooting" followed by "people" blocks,
   "shooting hoops" does not), name lists of real public figures and of third-party characters, and a
   Korean -> English gloss so that the same rules read Korean.
2. A linear head (multinomial logistic regression) on MiniLM sentence embeddings, trained when the moderator
   loads on the labelled exemplars in `policy/exemplars.jsonl`. It catches paraphrases the word lists miss
   ("a gunman opening fire on a crowd"). The exemplars are disjoint from the evaluation set
   (`safety/data/moderation_prompts.jsonl`, scored by `bench/moderation_eval.py`).

Every prompt is first normalised (`normalize`) so that obfuscation does not slip past either part:
zero-width characters dropped, full-width letters folded (NFKC), accents stripped, Cyrillic/Greek
look-alikes mapped to Latin, l33t inside words undone ("k1ll", "n4ked"), spelled-out words joined
("k i l l", "자 살"), typed-out Korean jamo composed ("ㅈㅏㅎㅐ" -> "자해").

`check_prompt` raises `haneul.errors.ModerationBlocked(category, message)`; `moderate_prompt` returns a
`ModerationResult` for reporting.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from haneul.errors import ModerationBlocked

POLICY_DIR = Path(__file__).parent / "policy"

# Most severe first: when a prompt hits several categories, the refusal names the first.
CATEGORIES = (
    "sexual_minors",
    "weapons_instructions",
    "violence_graphic",
    "self_harm",
    "hate",
    "sexual",
    "public_figure",
    "third_party_ip",
)
BENIGN = "benign"

# The embedding head only votes for these; names and characters are lists, not meanings an embedding knows.
HEAD_CATEGORIES = ("sexual", "violence_graphic", "hate", "self_harm", "weapons_instructions")
HEAD_BLOCK_PROB = 0.7  # the head alone blocks at this probability...
HEAD_CUE_PROB = 0.4  # ...or at this one when the prompt also uses a word of that category's concepts
HEAD_L2 = 1e-4  # weight decay of the head (these three set by 5-fold cross-validation on the exemplars)

MESSAGES = {
    "sexual": "sexual content is not allowed",
    "sexual_minors": "sexual content involving minors is not allowed",
    "violence_graphic": "graphic violence and gore are not allowed",
    "hate": "hateful content is not allowed",
    "self_harm": "depictions or encouragement of self-harm are not allowed",
    "public_figure": "the likeness of real public figures is not allowed",
    "third_party_ip": "third-party characters and brand logos are not allowed",
    "weapons_instructions": "instructions for making weapons are not allowed",
}


@dataclass(frozen=True)
class ModerationResult:
    """What moderation decided: `category` and `reason` say why a prompt was refused (None/"" if allowed)."""

    allowed: bool
    category: str | None
    score: float  # 1.0 for a policy-rule hit; the head's probability otherwise
    reason: str


# ---------------------------------------------------------------- normalisation

_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad\u180e")
)
_HOMOGLYPHS = str.maketrans(
    # Cyrillic and Greek letters that look Latin (after lower-casing), then small capitals (NFKC keeps them)
    "аеёіїјкмнорсѕтухԁɡαβεικνορτυχωьъ" + "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ",
    "aeeiijkmhopcstyxdgabeikvoptuxwbb" + "abcdefghijklmnoprstuvwyz",
)
_LEET = str.maketrans("0134579@$!|", "oieastgasil")
_LEET_INSIDE = re.compile(r"(?<=[a-z])[0134579@$!|]+(?=[a-z])|(?<=[a-z]{2})[0134579@$!]+(?![a-z0-9])")

_CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_JONG = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"  # index 0 = no final consonant
_JAMO_RUN = re.compile(r"[\u3131-\u3163](?:\s*[\u3131-\u3163])+")
_HANGUL = re.compile(r"[가-힣]")
_HANGUL_RUN = re.compile(r"[가-힣]+(?: [가-힣]+)*")


def _compose_jamo(run: str) -> str:
    """Typed-out compatibility jamo ("ㅈㅏㅎㅐ") -> syllables ("자해"); unpaired jamo stay as they are."""
    s, out, i = re.sub(r"\s", "", run), [], 0
    while i < len(s):
        if s[i] in _CHO and i + 1 < len(s) and s[i + 1] in _JUNG:
            lead, vowel, i = _CHO.index(s[i]), _JUNG.index(s[i + 1]), i + 2
            tail = 0
            # a consonant is the syllable's final one unless a vowel follows (then it starts the next)
            if i < len(s) and s[i] in _JONG[1:] and not (i + 1 < len(s) and s[i + 1] in _JUNG):
                tail, i = _JONG.index(s[i]), i + 1
            out.append(chr(0xAC00 + (lead * 21 + vowel) * 28 + tail))
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _fold(text: str) -> str:
    """Unicode tricks off: zero-width, full-width, accents, homoglyphs, case, jamo."""
    text = text.translate(_ZERO_WIDTH)
    text = _JAMO_RUN.sub(lambda m: _compose_jamo(m.group()), text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = unicodedata.normalize("NFC", text).lower().translate(_HOMOGLYPHS)
    text = re.sub(r"(?<=[a-z])(?:><|\)\()(?=[a-z])", "x", text)  # "se><ual": an x drawn with brackets
    return _LEET_INSIDE.sub(lambda m: m.group().translate(_LEET), text)


def _split_articles(word: str, known: Callable[[str], bool]) -> list[str]:
    """A spelled-out word runs into the one-letter articles around it ("a p i p e b o m b", "k i l l i n g a");
    split them off when that leaves a word the policy knows."""
    if known(word):
        return [word]
    for lead, trail in ((1, 0), (0, 1), (1, 1)):
        core = word[lead : len(word) - trail]
        if (not lead or word[0] in "ai") and (not trail or word[-1] in "ai") and known(core):
            return [word[0]] * lead + [core] + [word[-1]] * trail
    # two spelled words in a row: "k e a n u r e e v e s" -> "keanu reeves"
    for cut in range(3, len(word) - 2):
        if known(word[:cut]) and known(word[cut:]):
            return [word[:cut], word[cut:]]
    return [word]


def _join_spelled(tokens: list[str], known: Callable[[str], bool]) -> list[str]:
    """Join runs of one-character tokens: "k i l l" -> "kill", "자 살" -> "자살"; a two-letter piece in front
    joins too when that makes a word the policy knows ("sh o o t i n g" -> "shooting")."""
    out, run = [], []
    for tok in [*tokens, ""]:
        if len(tok) == 1:
            run.append(tok)
            continue
        if len(run) >= 2 and out and len(out[-1]) == 2 and known(out[-1] + "".join(run)):
            out[-1] += "".join(run)
        else:
            out += _split_articles("".join(run), known) if len(run) >= 2 else run
        run = []
        if tok:
            out.append(tok)
    return out


def normalize(text: str, gloss: Gloss | None = None, known: Callable[[str], bool] = lambda w: False) -> str:
    """The prompt as lower-case words separated by single spaces, obfuscation undone, Korean glossed.

    `known` tells whether a word is in the policy's vocabulary (to split articles off spelled-out words)."""
    text = _fold(text)
    text = re.sub(r"['’`]s\b", "", text)  # possessive: "woman's throat" -> "woman throat"
    text = re.sub(r"['’`]", "", text)
    tokens = _join_spelled(re.sub(r"[^a-z0-9가-힣]+", " ", text).split(), known)
    text = " ".join(tokens)
    if gloss is not None and _HANGUL.search(text):
        text = _HANGUL_RUN.sub(lambda m: gloss(m.group().replace(" ", "")), text)
        text = " ".join(text.split())
    return text


class Gloss:
    """Greedy longest-match Korean -> English glossing; unknown syllables (particles, endings) are dropped."""

    def __init__(self, table: dict[str, str]):
        self.table = table
        self.longest = max(map(len, table))

    def __call__(self, hangul: str) -> str:
        words, i = [], 0
        while i < len(hangul):
            for n in range(min(self.longest, len(hangul) - i), 0, -1):
                if hangul[i : i + n] in self.table:
                    words.append(self.table[hangul[i : i + n]])
                    i += n
                    break
            else:
                i += 1
        return " " + " ".join(words) + " "


# ---------------------------------------------------------------- the policy


def _term_regex(terms: list[str]) -> re.Pattern:
    """One regex matching any of `terms` as whole words; a trailing * matches any word ending."""
    alts = []
    for term in sorted({t.strip().lower() for t in terms if t.strip()}, key=len, reverse=True):
        words = re.sub(r"[^a-z0-9* ]+", " ", term).split()
        alts.append(
            " ".join(re.escape(w.rstrip("*")) + ("[a-z0-9]*" if w.endswith("*") else "") for w in words)
        )
    return re.compile(r"(?<![a-z0-9])(?:" + ("|".join(alts) or "(?!)") + r")(?![a-z0-9])")


def _matches(pattern: re.Pattern, text: str) -> list[tuple[int, int, str]]:
    """(first word index, last word index, matched text) of every match."""
    out = []
    for m in pattern.finditer(text):
        first = text.count(" ", 0, m.start())
        out.append((first, first + m.group().count(" "), m.group()))
    return out


def _read_names(path: Path) -> list[list[str]]:
    lines = [ln.split("#")[0].strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [[a.strip().lower() for a in ln.split("|") if a.strip()] for ln in lines if ln]


@dataclass
class Rule:
    category: str
    concepts: list[str]
    ordered: bool  # `seq` rules: concepts in this order within `window` words; `all` rules: anywhere
    window: int
    unless: list[str]


class Policy:
    """The policy files of `policy_dir`, compiled into regexes."""

    def __init__(self, policy_dir: Path = POLICY_DIR):
        data = yaml.safe_load((policy_dir / "policy.yaml").read_text(encoding="utf-8"))
        term_lists = [data["allow_phrases"], *data["block_terms"].values(), *data["concepts"].values()]
        self.allow = _term_regex(data["allow_phrases"])
        self.block = {cat: _term_regex(terms) for cat, terms in data["block_terms"].items() if terms}
        self.concepts = {name: _term_regex(terms) for name, terms in data["concepts"].items()}
        self.rules = [
            Rule(
                r["category"],
                r.get("seq") or r["all"],
                "seq" in r,
                r.get("window", 1000),
                r.get("unless", []),
            )
            for r in data["rules"]
        ]
        self.place_words = set(data["name_place_words"])
        table = yaml.safe_load((policy_dir / "ko_gloss.yaml").read_text(encoding="utf-8"))
        self.names = {}
        for category, fname in (
            ("public_figure", "public_figures.txt"),
            ("third_party_ip", "characters.txt"),
        ):
            latin = []
            for canonical, *aliases in _read_names(policy_dir / fname):
                for alias in [canonical, *aliases]:
                    if _HANGUL.search(alias):
                        table[alias.replace(" ", "")] = canonical
                    else:
                        latin.append(alias)
            self.names[category] = _term_regex(latin)
            term_lists.append(latin)
        words = {w.lower() for terms in term_lists for t in terms or [] for w in t.split()}
        self.vocab = {w for w in words if not w.endswith("*")}
        self.vocab_prefixes = tuple(w[:-1] for w in words if w.endswith("*") and len(w) > 4)
        self.gloss = Gloss({k: str(v) for k, v in table.items()})
        # per head category, the words that lower the head's bar (policy.yaml: head_cues)
        self.cue = {
            cat: _term_regex([t for name in names for t in data["concepts"][name]])
            for cat, names in data["head_cues"].items()
        }

    def known(self, word: str) -> bool:
        return word in self.vocab or word.startswith(self.vocab_prefixes)

    def normalize(self, text: str) -> str:
        """Normalised and glossed."""
        return normalize(text, self.gloss, self.known)

    def without_allowed(self, norm: str) -> str:
        """`norm` with the benign phrases removed (what the rules and the embedding head read)."""
        return " ".join(self.allow.sub(" ", norm).split())

    def hits(self, text: str, korean: bool) -> list[tuple[str, str]]:
        """(category, reason) for every policy entry that `text` (normalised) breaks."""
        out = [(cat, f"term {m.group()!r}") for cat, rx in self.block.items() for m in [rx.search(text)] if m]
        words = text.split()
        for cat, rx in self.names.items():
            for _, last, name in _matches(rx, text):
                if cat == "public_figure" and last + 1 < len(words) and words[last + 1] in self.place_words:
                    continue  # "Trump Tower", "the Paris Hilton hotel"
                out.append((cat, f"name {name!r}"))
        for rule in self.rules:
            if self._fires(rule, text, ordered=rule.ordered and not korean):
                out.append((rule.category, "rule " + (" -> " if rule.ordered else " + ").join(rule.concepts)))
        return out

    def _fires(self, rule: Rule, text: str, ordered: bool) -> bool:
        if any(self.concepts[u].search(text) for u in rule.unless):
            return False
        found = [_matches(self.concepts[c], text) for c in rule.concepts]
        if not all(found):
            return False
        if rule.window >= 1000:
            return True
        first, second = found  # seq rules have two concepts
        for a_start, a_end, _ in first:
            for b_start, b_end, _ in second:
                gap = b_start - a_end if ordered else max(b_start - a_end, a_start - b_end)
                if 0 < gap <= rule.window:
                    return True
        return False


# ---------------------------------------------------------------- the embedding head


def _read_exemplars(path: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [r["text"] for r in rows], [r["category"] for r in rows]


def fit_logistic(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression, full-batch L-BFGS from zeros: deterministic. Returns (weight, bias)."""
    weight = torch.zeros(x.shape[1], num_classes, requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn="strong_wolfe")

    def loss_fn():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight + bias, y) + l2 * weight.square().sum()
        loss.backward()
        return loss

    opt.step(loss_fn)
    return weight.detach(), bias.detach()


def head_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "haneul" / "moderation"


class EmbeddingHead:
    """MiniLM sentence embeddings (mean-pooled, L2-normalised, as sentence-transformers' config says) and a
    multinomial logistic regression trained on the exemplars when the moderator loads.

    Embedding the exemplars is most of the load time, so the trained weights are cached on disk under a hash
    of everything they depend on (encoder, normalised exemplars, labels, weight decay): edit the exemplars or
    the policy and the head is trained afresh."""

    def __init__(self, encoder, texts: list[str], labels: list[str], l2: float = HEAD_L2, cache: bool = True):
        self.encoder = encoder
        self.classes = [BENIGN, *HEAD_CATEGORIES]
        blob = json.dumps(
            [str(getattr(encoder, "name", "")), l2, self.classes, texts, labels], ensure_ascii=False
        )
        path = head_cache_dir() / f"head-{hashlib.sha256(blob.encode()).hexdigest()[:20]}.pt"
        if cache and path.is_file():
            saved = torch.load(path)
            self.weight, self.bias = saved["weight"], saved["bias"]
            return
        y = torch.tensor([self.classes.index(label) for label in labels])
        self.weight, self.bias = fit_logistic(self.embed(texts), y, len(self.classes), l2)
        if cache:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                torch.save({"weight": self.weight, "bias": self.bias}, tmp)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only home only costs the training time at the next load

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """(N, D) unit-length sentence embeddings."""
        out = []
        for i in range(0, len(texts), batch_size):
            tok = self.encoder.tokenizer(
                texts[i : i + batch_size],
                padding=True,
                truncation=True,
                max_length=self.encoder.max_length,
                return_tensors="pt",
            )
            hidden = self.encoder.model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
            mask = tok["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out.append(torch.nn.functional.normalize(pooled.float(), dim=-1))
        return torch.cat(out)

    @torch.no_grad()
    def probs(self, text: str) -> dict[str, float]:
        p = torch.softmax(self.embed([text]) @ self.weight + self.bias, dim=-1)[0]
        return dict(zip(self.classes, p.tolist(), strict=True))


# ---------------------------------------------------------------- the moderator


class Moderator:
    """Policy rules first (exact, explainable), then the embedding head for what the rules do not name."""

    def __init__(self, policy: Policy, head: EmbeddingHead | None, load_seconds: float = 0.0):
        self.policy = policy
        self.head = head
        self.load_seconds = load_seconds

    @classmethod
    def load(cls, encoder=None, policy_dir: Path = POLICY_DIR, use_head: bool = True) -> Moderator:
        """`encoder`: a loaded `TextEncoder` to share (the generation pipeline's); loaded here if None."""
        start = time.perf_counter()
        policy = Policy(policy_dir)
        head = None
        if use_head:
            if encoder is None:
                from haneul.models.text_encoder import shared_encoder

                encoder = shared_encoder()
            texts, labels = _read_exemplars(policy_dir / "exemplars.jsonl")
            head = EmbeddingHead(
                encoder, [policy.without_allowed(policy.normalize(t)) for t in texts], labels
            )
        return cls(policy, head, time.perf_counter() - start)

    def moderate(self, text: str) -> ModerationResult:
        norm = self.policy.normalize(text)
        ruled = self.policy.without_allowed(norm)
        hits = self.policy.hits(ruled, korean=bool(_HANGUL.search(_fold(text))))
        if hits:
            category, reason = min(hits, key=lambda h: CATEGORIES.index(h[0]))
            return ModerationResult(False, self._minors(category, ruled), 1.0, reason)
        if self.head is None or not ruled:
            return ModerationResult(True, None, 0.0, "")
        # the head reads what the rules read: a phrase the policy calls benign ("bath bomb") counts for nothing
        probs = self.head.probs(ruled)
        category = max(HEAD_CATEGORIES, key=probs.get)
        p = probs[category]
        cue = self.policy.cue[category].search(ruled)
        if p >= HEAD_BLOCK_PROB or (p >= HEAD_CUE_PROB and cue):
            reason = f"embedding head p={p:.2f}" + (f", cue {cue.group()!r}" if cue else "")
            return ModerationResult(False, self._minors(category, ruled), p, reason)
        return ModerationResult(True, None, p, "")

    def _minors(self, category: str, norm: str) -> str:
        """Anything sexual that also names a minor is the most severe category."""
        if category == "sexual" and self.policy.concepts["minor"].search(norm):
            return "sexual_minors"
        return category


@functools.lru_cache(maxsize=1)
def default_moderator() -> Moderator:
    """The moderator with the default policy and encoder, loaded once per process."""
    return Moderator.load()


def moderate_prompt(text: str) -> ModerationResult:
    """Moderate one prompt (or expanded caption) with the default moderator."""
    return default_moderator().moderate(text)


def check_prompt(text: str) -> None:
    """Raise `haneul.errors.ModerationBlocked` if `text` breaks the usage policy."""
    result = moderate_prompt(text)
    if not result.allowed:
        raise ModerationBlocked(result.category, f"{MESSAGES[result.category]} ({result.reason})")
