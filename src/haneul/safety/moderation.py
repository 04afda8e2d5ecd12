"""Prompt moderation: refuse prompts that break the usage policy before any compute is spent.

Two parts, combined:

1. A curated, editable policy (`safety/policy/`): words that block on their own, benign phrases that are
   removed first ("killer whale", "naked eye"), context rules ("shooting" followed by "people" blocks,
   "shooting hoops" does not), name lists of real public figures and of third-party characters, and a
   Korean -> English gloss so that the same rules read Korean.
2. A nearest-neighbour head on MiniLM sentence embeddings of the labelled exemplars in
   `policy/exemplars.jsonl`: a prompt is refused when its nearest exemplars of a harmful class are clearly
   closer than its nearest benign ones, and the refusal names the exemplar it resembles. It catches
   paraphrases the word lists miss ("a gunman opening fire on a crowd"). The exemplars are disjoint from the
   evaluation set (`safety/data/moderation_prompts.jsonl`, scored by `bench/moderation_eval.py`); that set's
   prompts of NEIGHBOUR_SPLITS are neighbours too (the bench leaves each split out when scoring it). A prompt
   of several clauses is judged whole and clause by clause; the clause nearest to harm counts.

Every prompt is first normalised (`normalize`) so that obfuscation does not slip past either part:
zero-width characters dropped, full-width letters folded (NFKC), accents stripped, Cyrillic/Greek
look-alikes mapped to Latin, l33t undone ("k1ll", "n4ked", "3xplicit"), spelled-out or split words joined
("k i l l", "ex-plicit", "자 살"), stretched letters shortened ("kiiill"), typed-out Korean jamo composed
("ㅈㅏㅎㅐ" -> "자해"). Names one typo away from a listed name count as that name ("b1yonce").

`check_prompt` raises `haneul.errors.ModerationBlocked(category, message)`; `moderate_prompt` returns a
`ModerationResult` for reporting.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import re
import time
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
NAME_CATEGORIES = ("public_figure", "third_party_ip")  # the name lists' categories

# The embedding head only votes for these; names and characters are lists, not meanings an embedding knows.
HEAD_CATEGORIES = ("sexual", "violence_graphic", "hate", "self_harm", "weapons_instructions")
HEAD_K = 10  # the head compares a prompt with its 10 nearest neighbours of each class...
# ...and blocks when their mean cosine similarity for a harmful class beats the benign one's by this margin.
# Session 5 chose k, the margin and the neighbours by leave-one-split-out over the six labelled splits
# (docs/safety.md): the margin giving the most recall with at most 1% false positives on the other splits was
# 0.07, 0.07, 0.08, 0.08, 0.08 and 0.09 for the six folds; the median 0.08 is kept. Session 6's policy gives
# 0.06, 0.09, 0.09, 0.09, 0.09, 0.09, but the rules now block every block row of the training folds, so their
# recall no longer tells margins apart and the lower-fpr tie-break alone picks 0.09; on the session's probe
# prompts (docs/safety.md; development data by then) 0.09 missed 4 more of 221 violating ones and refused no
# fewer of 325 benign ones. With holdout6 among the splits and the neighbours (after its scoring) the folds
# choose 0.07, 0.08, 0.08, 0.08, 0.08, 0.08: 0.08 again; with holdout7 among the neighbours too (session 7), the
# seven folds (dev to holdout6) choose 0.07 once and 0.08 six times.
HEAD_MARGIN = 0.08
# The head's encoder runs with int8 weights where ONNX Runtime is installed (`EmbeddingHead.freeze`); its
# embeddings are accepted if each probe's is at least this close to torch's (the least over 1,500 labelled
# prompts was 0.967, the median 0.993; another model is far below).
INT8_MIN_COSINE = 0.95
INT8_RUNTIME = "onnxruntime-int8"
EXEMPLAR_CACHE_ENTRIES = 8  # embedded exemplar sets kept on disk (one per policy, encoder and runtime in use)
# The labelled prompts of these splits are neighbours of the head too (their labels, sexual_minors read as
# sexual; the name categories left out): blind splits brought phrasings no exemplar had, and every split added
# as neighbours raised recall on the next one (leave-one-split-out, docs/safety.md). A new blind split must
# NOT be added here before its single scoring; bench/moderation_eval.py scores each split with a head that
# leaves that split out. holdout6 joined after its single scoring: with holdout5 among the neighbours the head
# blocked 127 of holdout6's 183 violating prompts, 124 without (same benign refusals; docs/safety.md). holdout7
# joined after its single scoring: with it, the head alone blocked 130 of holdout6's 183 (126 without), 107 of
# holdout5's 160 (108), 105 of holdout4's 152 (105) and 82 of 126 probe prompts (81), refusing none of their
# benign ones either way, and the mean margin of every set's violating prompts rose, its benign ones' fell.
# holdout8 joined after its single scoring (session 8, `bench/moderation_head_cv.py` with and without
# `--drop holdout8`, at be08d1c): with it the head alone blocked 103, 109, 129 and 128 of the 152, 160, 183 and
# 182 violating prompts of holdout4..7 (103, 110, 128, 125 without; at a3dde80 holdout6 128 either way) and 111
# of 200 probe prompts (110), refusing none of their benign ones either way; k-NN scoring of 50 prompt parts
# took 3.85 ms (3.51).
NEIGHBOUR_SPLITS = (
    "dev",
    "holdout",
    "holdout2",
    "holdout3",
    "holdout4",
    "holdout5",
    "holdout6",
    "holdout7",
    "holdout8",
)
LABELLED = Path(__file__).parent / "data" / "moderation_prompts.jsonl"
# A prompt of several clauses is also judged clause by clause (the worst clause counts): a harmful clause in a
# long scene is diluted in the mean-pooled embedding of the whole. At most this many clauses of 3+ words.
MAX_CLAUSES = 4

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
    score: float  # 1.0 for a policy-rule hit; otherwise the head's similarity to its nearest harmful class
    reason: str

    @property
    def message(self) -> str:
        """What a refusal tells the user ("" if allowed): the category's message and the reason."""
        return "" if self.allowed else f"{MESSAGES[self.category]} ({self.reason})"


# ---------------------------------------------------------------- normalisation

_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad\u180e")
)
_HOMOGLYPHS = str.maketrans(
    # Cyrillic and Greek letters that look Latin (after lower-casing), then small capitals (NFKC keeps them)
    "аеёіїјкмнорсѕтухԁɡαβεικνορτυχωьъ"
    + "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ"
    # session 6: more look-alikes (Cyrillic п г в ш һ ӏ ԝ ү ѵ, Greek η γ μ, Latin letters NFKD keeps, currency)
    + "пгвшһӏԝүѵηγμıȷɑøłđħð€¢¥",
    "aeeiijkmhopcstyxdgabeikvoptuxwbb" + "abcdefghijklmnoprstuvwyz" + "nrbwhlwyvnyuijaoldhdecy",
)
# Emoji that stand for a letter ("n🅰ked", "s❌x": no spaces, they sit inside words) and emoji that stand for a
# word ("a 👧 in a 👙", "🔫 pointed at a crowd": spaces around). Boxed letters NFKC does not fold are mapped too.
_EMOJI_LETTERS = {"❌": "x", "✖": "x", "✕": "x", "✗": "x", "⭕": "o", "🅾": "o", "ⓞ": "o"} | {
    chr(base + i): chr(ord("a") + i) for base in (0x1F170, 0x1F150, 0x1F1E6) for i in range(26)
}
_EMOJI_WORDS = {
    "🔫": "gun",
    "🔪": "knife",
    "🗡": "dagger",
    "⚔": "swords",
    "💣": "bomb",
    "🧨": "explosive",
    "💥": "explosion",
    "💊": "pills",
    "💉": "syringe",
    "🩸": "blood",
    "🩹": "bandage",
    "💀": "skull",
    "☠": "skull",
    "⚰": "coffin",
    "🪦": "grave",
    "🪓": "axe",
    "🪢": "rope",
    "🔥": "fire",
    "✂": "scissors",
    "🍆": "eggplant",
    "🍑": "peach",
    "👅": "tongue",
    "👙": "bikini",
    "🩲": "underwear",
    "🔞": "nsfw",
    "🤰": "pregnant",
    "👶": "baby",
    "🧒": "child",
    "👧": "girl",
    "👦": "boy",
    "👩": "woman",
    "👨": "man",
    "🧑": "person",
    "👴": "old man",
    "👵": "old woman",
    "🐒": "monkey",
    "🐵": "monkey",
    "🦍": "ape",
    "🐀": "rat",
    "🪳": "cockroach",
    "🐷": "pig",
    "🐶": "dog",
    "🐱": "cat",
    "🚗": "car",
    "🚆": "train",
    "🏫": "school",
    "🛁": "bathtub",
    "🚿": "shower",
    "🛏": "bed",
    "📸": "camera",
    "📷": "camera",
    "🎥": "camera",
    "🚬": "cigarette",
    "🧠": "brain",
    "🦴": "bone",
    "🍺": "beer",
}
_EMOJI = str.maketrans(_EMOJI_LETTERS | {k: f" {v} " for k, v in _EMOJI_WORDS.items()})
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
        elif s[i] in _CLUSTER and out and _is_closed_syllable(out[-1]):
            # "ㅅㅔㄱㅅ" -> 섹스: the consonant after a closed syllable is a cluster's
            out.append(_with_eu(s[i]))
            i += 1
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


# Korean writes an English consonant cluster with the vowel ㅡ (sex -> 섹스, test -> 테스트); obfuscation drops the
# ㅡ and leaves the bare consonant after a syllable that already has a final one ("ㅅㅔㄱㅅ", "섹ㅅ"). Not ㅋ ㅎ ㅇ:
# "ㅋㅋ" and "ㅎㅎ" are laughter.
_CLUSTER = "ㄱㄷㅂㅅㅈㅊㅌㅍ"


def _is_closed_syllable(char: str) -> bool:
    offset = ord(char) - 0xAC00
    return 0 <= offset < 11172 and offset % 28 != 0


def _with_eu(consonant: str) -> str:
    """A bare initial consonant as a syllable with the vowel ㅡ: ㅅ -> 스."""
    return chr(0xAC00 + (_CHO.index(consonant) * 21 + _JUNG.index("ㅡ")) * 28)


_TAIL_JAMO = re.compile(r"([가-힣])([\u3131-\u314e])(?![\u3131-\u3163])")  # not "ㅋㅋ", not an initial


def _attach_tail(m: re.Match) -> str:
    """A syllable without a final consonant and one loose consonant after it ("자사ㄹ") -> one syllable ("자살");
    after a syllable with a final consonant, the consonant of a cluster ("섹ㅅ" -> 섹스)."""
    syllable, jamo = m.groups()
    offset = ord(syllable) - 0xAC00
    if offset % 28 and jamo in _CLUSTER:
        return syllable + _with_eu(jamo)  # "섹ㅅ" -> 섹스
    if offset % 28 or jamo not in _JONG[1:]:
        return m.group()
    return chr(ord(syllable) + _JONG.index(jamo))


def _fold(text: str) -> str:
    """Unicode tricks off: zero-width, full-width, accents, homoglyphs, case, jamo."""
    text = text.translate(_ZERO_WIDTH).translate(_EMOJI)
    text = _JAMO_RUN.sub(lambda m: _compose_jamo(m.group()), text)
    text = _TAIL_JAMO.sub(_attach_tail, text)
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
    return _segment(word, known) or [word]


_GLUE = frozenset({"a", "an", "the", "i", "of", "to", "in", "on", "my", "his", "her", "and", "with"})


def _segment(word: str, known: Callable[[str], bool], pieces: int = 5) -> list[str] | None:
    """A spelled-out phrase run together ("slittingathroat") as policy words and short glue words ("slitting a
    throat"), in at most `pieces` pieces with the longest word first; None if there is no such reading."""
    if not word:
        return []
    if pieces == 0:
        return None
    for cut in range(len(word), 0, -1):
        head = word[:cut]
        if (len(head) >= 3 and known(head)) or head in _GLUE:
            rest = _segment(word[cut:], known, pieces - 1)
            if rest is not None:
                return [head, *rest]
    return None


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
            # repaired too: "s 3 x" joins to "s3x", whose l33t only _repair undoes
            out += _split_articles(_repair("".join(run), known), known) if len(run) >= 2 else run
        run = []
        if tok:
            out.append(tok)
    return out


_SEPARATED = re.compile(r"[a-z0-9]+(?:[-._*~+][a-z0-9]+)+")
_RUN = re.compile(r"([a-z])\1{2,}")


def _unseparate(word: str, known: Callable[[str], bool]) -> str:
    """ "ex-plicit", "mur.der", "self-harm" -> one word when that is a word the policy knows; "t-shirt" stays
    two words."""
    joined = re.sub(r"[-._*~+]", "", word)
    if known(joined):
        return joined
    return _unmask(word, known) or word


def _unmask(word: str, known: Callable[[str], bool]) -> str | None:
    """A word with one or two letters masked by "*" ("tr*mp", "s*icide", "sw*ft"), as the policy word it
    hides, if exactly one letter per mask makes one; None otherwise."""
    if not 1 <= word.count("*") <= 2 or not re.fullmatch(r"[a-z]+(?:\*[a-z]*)+", word):
        return None
    candidates = [""]
    for part in word.split("*")[:-1]:
        candidates = [c + part + ch for c in candidates for ch in "abcdefghijklmnopqrstuvwxyz"]
    found = {c + word.rsplit("*", 1)[1] for c in candidates}
    hits = sorted(w for w in found if known(w))
    if len(hits) > 1:
        # a mask hides the word one would not type: "g*ys" is "gays", not the everyday "guys"
        hits = [w for w in hits if w not in _common_words()]
    return hits[0] if len(hits) == 1 else None


def _repair(token: str, known: Callable[[str], bool]) -> str:
    """A token the policy does not know, turned into one it does: l33t at a word's start ("3xplicit"; "3d"
    and "4k" have one letter and stay) and stretched letters ("kiiiill", "nuuude")."""
    if known(token):
        return token
    if sum(c.isalpha() for c in token) >= 2 and not token.isdigit():
        unleet = token.translate(_LEET)
        if unleet != token and known(unleet):
            return unleet
    # Cyrillic "у" looks like "y" but stands in for "u" too ("sуiсidе" folds to "syicide")
    if "y" in token and len(token) >= 5:
        as_u = token.replace("y", "u")
        if known(as_u):
            return as_u
    if _RUN.search(token):
        for candidate in (_RUN.sub(r"\1", token), _RUN.sub(r"\1\1", token)):
            for cand in (candidate, re.sub(r"([a-z])\1", r"\1", candidate)):
                if known(cand):
                    return cand
    return token


# A Korean name with its surname typed in Latin letters, glued to the given name in Hangul ("s0n흥민", "kim연아")
_SURNAMES = {
    "son": "손",
    "kim": "김",
    "lee": "이",
    "park": "박",
    "choi": "최",
    "jung": "정",
    "kang": "강",
    "cho": "조",
    "yoon": "윤",
    "jang": "장",
    "lim": "임",
    "shin": "신",
    "han": "한",
    "oh": "오",
    "seo": "서",
    "kwon": "권",
}
# an age as digits and 살 ("15살이"); not 살 starting a word of its own (살아, 살려, 살인, 살해)
_AGE_KO = re.compile(r"(?<![0-9])([0-9]{1,2}) ?살(?![아려림인해])")
# a school year written short: 초6, 중3, 고1 (학년) - a child's year at school, so a minor. Not a count: "모델
# 중 2명" (two of the models), "초 5개" (five candles); a space before the digit only with 학년 after it.
_GRADE_KO = re.compile(
    r"(?<![가-힣0-9])([초중고])(?:[1-6](?![0-9]| ?(?:명|개|번|분|초|시|일|위|등|회|층|점|배|살|잔|대|마리|권|장))"
    r"(?: ?학년)?| ?[1-6] ?학년)"
)
_GRADE_WORDS = {
    "초": " elementary school child ",
    "중": " middle school child ",
    "고": " high school student ",
}
# NFKD has turned a loose ㅅ into the conjoining ᄉ by then
_SEX_JAMO = re.compile(r"(?<![\u1100-\u11ff\u3131-\u3163])[ㅅᄉ]{2}(?![\u1100-\u11ff\u3131-\u3163])")
_PILLS_KO = re.compile(r"(?<![0-9])([1-9][0-9]{1,2}) ?알(?![가-힣]*(?:달걀|계란))")
_ADULT_KO = re.compile(r"(?<![0-9])19 ?금(?![요액리속메연지고주빛발])")
_SURNAME_LATIN = re.compile(r"(?<![a-z0-9])(?:" + "|".join(_SURNAMES) + r")(?=[가-힣]{2})")


# Korean typed in Latin letters (Revised Romanisation and its everyday variants: "jasal-hagi", "jugyeo",
# "joongding"): its words are turned back into Hangul so that the gloss reads them. Initials, vowels and finals
# longest first; a final consonant is never an English-only one (r, f, v, ...), so few English words parse.
_RR_INITIALS = "kk tt pp ss jj gg dd bb ch sh g k n d r l m b s j t p h".split()
_RR_INITIAL_JAMO = "ㄲㄸㅃㅆㅉㄲㄸㅃㅊㅅㄱㅋㄴㄷㄹㄹㅁㅂㅅㅈㅌㅍㅎ"
_RR_VOWELS = "yeo yae wae weo wo wi we wa oe ui eo eu ae ya ye yo yu oo a e i o u".split()
_RR_VOWEL_JAMO = "ㅕㅒㅙㅝㅝㅟㅞㅘㅚㅢㅓㅡㅐㅑㅖㅛㅠㅜㅏㅔㅣㅗㅜ"
# each final with the finals it may stand for: before n or m, romanisation writes the sound a final takes
# there (긋는 -> "geunneun", 먹는 -> "meongneun", 잡는 -> "jamneun")
# (and the finals a vowel after them moves into the next syllable: 굶어 -> "gulmeo", 꽃이 -> "kkochi")
_RR_FINALS = "ng kk ss lm lg lk lb lp nj nh bs ch k g n t d l m p b s j h".split()
_RR_FINAL_JAMO = [
    *("ㅇㄱ", "ㄲ", "ㅆ", "ㄻ", "ㄺ", "ㄺ", "ㄼ", "ㄼ", "ㄵ", "ㄶ", "ㅄ", "ㅊ", "ㄱ", "ㄱ", "ㄴㅅㄷㅈㅊ"),
    *("ㅅ", "ㄷ", "ㄹ", "ㅁㅂ", "ㅂ", "ㅂ", "ㅅ", "ㅈ", "ㅎ"),
]
_RR_SYLLABLE = "(?:{})?(?:{})(?:{})?".format(*("|".join(x) for x in (_RR_INITIALS, _RR_VOWELS, _RR_FINALS)))
_RR_WORD = re.compile(f"(?:{_RR_SYLLABLE})+")


# a romanised word typed syllable by syllable: three or more hyphenated syllables ("yeo-ja-ae-ui"); two are
# left apart ("sa-jin" is read as one Hangul run anyway, and "hip-hop" stays English)
_RR_SYLLABLES = re.compile(f"(?<![a-z0-9-])(?:{_RR_SYLLABLE})(?:-(?:{_RR_SYLLABLE})){{2,}}(?![a-z0-9-])")


def _romanised(tokens: list[str], known: Callable[[str], bool]) -> bool:
    """Whether `tokens` are mostly romanised Korean: two or more words that parse as syllables and are neither
    English (the MiniLM vocabulary) nor policy words, and at least 40% of the Latin words."""
    latin = [t for t in tokens if t.isalpha() and t.isascii()]
    common = _common_words()
    korean = [t for t in latin if t not in common and not known(t) and _RR_WORD.fullmatch(t)]
    return len(korean) >= 2 and len(korean) >= 0.4 * len(latin)


def _rr_spellings(word: str, limit: int = 256) -> list[str]:
    """Hangul spellings of romanised `word`, onset-first ("saram" -> 사람 before 살암): romanisation writes
    the sound, so a final consonant before a vowel is written as the next syllable's start (죽이는 ->
    "jugineun") and only the gloss can tell which spelling was meant."""
    out: list[str] = []

    def walk(i: int, done: str) -> None:
        if len(out) >= limit:
            return
        if i == len(word):
            out.append(done)
            return
        for lead, lead_jamo in [*zip(_RR_INITIALS, _RR_INITIAL_JAMO, strict=True), ("", "ㅇ")]:
            if not word.startswith(lead, i):
                continue
            j = i + len(lead)
            for vowel, vowel_jamo in zip(_RR_VOWELS, _RR_VOWEL_JAMO, strict=True):
                if not word.startswith(vowel, j):
                    continue
                k = j + len(vowel)
                base = 0xAC00 + (_CHO.index(lead_jamo) * 21 + _JUNG.index(vowel_jamo)) * 28
                walk(k, done + chr(base))
                for tail, tail_jamos in zip(_RR_FINALS, _RR_FINAL_JAMO, strict=True):
                    if word.startswith(tail, k):
                        for tail_jamo in tail_jamos:
                            walk(k + len(tail), done + chr(base + _JONG.index(tail_jamo)))
                break  # the longest vowel only ("yeo", not "ye" + "o")

    walk(0, "")
    return out


def _to_hangul(
    word: str, spellings: list[str], gloss: Gloss, known: Callable[[str], bool], after: str = ""
) -> str:
    """Romanised `word` in Hangul: the spelling whose syllables the gloss reads most of. An English or policy
    word ("nude", "son", "lo") only when the gloss reads all of it, alone ("son" -> 손, hand) or with the
    Hangul `after` it ("pi-ga" -> 피가, blood). `spellings`: `_rr_spellings(word)`, [] if it is not
    romanised."""
    if not spellings:
        return word
    best = max(spellings, key=lambda h: gloss.covered(h + after))
    alone, joined = gloss.covered(best), gloss.covered(best + after) - gloss.covered(after)
    if word in _common_words() or known(word):
        if alone < len(best) and joined < len(best):
            return word
    elif alone == 0 and joined == 0:  # nothing the gloss reads ("kimchi", "insadong"): MiniLM reads it as is
        return word
    return best


def _particle(word: str, latin: str, after: str, gloss: Gloss, known: Callable[[str], bool]) -> bool:
    """Whether the Latin word `latin` after Hangul `word` is a particle the gloss reads `word` with ("pi ga":
    피 read with 가): not an English or policy word ("oppa nude": "nude" stays), and reading `word` with its
    Hangul spelling `after` covers more than `word` alone."""
    if _HANGUL.match(latin) or latin in _common_words() or known(latin):
        return False
    return gloss.covered(word + after) - gloss.covered(after) > gloss.covered(word)


def _romanised_to_hangul(tokens: list[str], gloss: Gloss, known: Callable[[str], bool]) -> list[str]:
    """`tokens` with their romanised Korean words in Hangul, from the last word back (a word is read with the
    one after it: particles follow their word)."""
    out: list[str] = []
    after = ""  # the next word in Hangul, kept or not ("ga" stays Latin, but 피 is read with 가)
    for tok in reversed(tokens):
        spellings = _rr_spellings(tok) if _RR_WORD.fullmatch(tok) else []
        out.insert(0, _to_hangul(tok, spellings, gloss, known, after))
        if (
            len(out) > 1
            and after
            and _HANGUL.match(out[0])
            and _particle(out[0], out[1], after, gloss, known)
        ):
            out[1] = after  # the particle that made the word readable goes with it
        after = out[0] if _HANGUL.match(out[0]) else (spellings[0] if spellings else "")
    return out


def _join_syllables(m: re.Match) -> str:
    """Hyphenated romanised syllables as one word, unless every part is an English word ("man-to-man")."""
    parts = m.group().split("-")
    return m.group() if all(p in _common_words() for p in parts) else "".join(parts)


def normalize(text: str, gloss: Gloss | None = None, known: Callable[[str], bool] = lambda w: False) -> str:
    """The prompt as lower-case words separated by single spaces, obfuscation undone, Korean glossed.

    `known` tells whether a word is in the policy's vocabulary (to split articles off spelled-out words)."""
    text = _fold(text)
    text = re.sub(r"['’`]s\b", "", text)  # possessive: "woman's throat" -> "woman throat"
    text = re.sub(r"['’`]", "", text)
    text = _RR_SYLLABLES.sub(_join_syllables, text)  # "jung-hak-saeng" -> "junghaksaeng"
    text = _SEPARATED.sub(lambda m: _unseparate(m.group(), known), text)
    text = _GRADE_KO.sub(lambda m: _GRADE_WORDS[m.group(1)], text)  # "중3" -> "middle school child"
    # "자1살", "자x살": a syllable wedged apart
    text = re.sub(r"(?<=[가-힣])[0-9a-z]{1,2}(?=[가-힣])", " ", text)
    text = _SURNAME_LATIN.sub(lambda m: _SURNAMES[m.group()], text)  # "s0n흥민" -> "손흥민"
    text = _AGE_KO.sub(r"\1 years old ", text)  # "15살" -> "15 years old" (the minor rules' ages)
    text = _PILLS_KO.sub(r" \1 pills ", text)  # "30알": ten or more tablets
    text = _ADULT_KO.sub(" nsfw ", text)  # "19금": rated 19+ (not 금요일, 금메달, 금지)
    text = _SEX_JAMO.sub(" 섹스 ", text)  # "ㅅㅅ": the initials of 섹스, standing alone
    tokens = []
    # two or more spaces end a spelled-out word: "s l i t t i n g  a  t h r o a t"
    for chunk in re.split(r"\s{2,}", text):
        chunk_tokens = [_repair(t, known) for t in re.sub(r"[^a-z0-9가-힣]+", " ", chunk).split()]
        tokens += _join_spelled(chunk_tokens, known)
    if gloss is not None and _romanised(tokens, known):
        tokens = _romanised_to_hangul(tokens, gloss, known)
    text = " ".join(tokens)
    if gloss is not None and _HANGUL.search(text):
        text = _HANGUL_RUN.sub(lambda m: gloss(m.group()), text)
        text = " ".join(text.split())
    return text


# What may follow a name inside a Korean word: particles ("트럼프가", "손흥민이랑", "피카츄처럼"). Anything else
# means the name is only the start of another word: 메시지 (message) is not 메시, 토르티야 (tortilla) not 토르.
_PARTICLES = tuple(
    "이 가 은 는 을 를 의 와 과 랑 에 도 만 처럼 한테 로 으로 하고 님 씨 같 나 까지 부터 보다 께".split()
)


class Gloss:
    """Greedy longest-match Korean -> English glossing; unknown syllables (particles, endings) are dropped.

    `names` (Hangul aliases of public_figures.txt and characters.txt) match only at the start of a word and
    only when the rest of that word is a particle: a two-syllable name is otherwise found inside everyday
    words and across word boundaries once spaces are removed ("좋아요 시장" holds 요시)."""

    def __init__(self, table: dict[str, str], names: dict[str, str] | None = None):
        self.table = table
        self.names = names or {}
        self.longest = max(map(len, table))
        self.longest_name = max(map(len, self.names), default=0)

    def __call__(self, run: str) -> str:
        """`run`: Hangul words separated by single spaces."""
        return " " + " ".join(english for _, english in self.read(run)) + " "

    def covered(self, run: str) -> int:
        """How many syllables of `run` the table's keys and names read (to choose a romanised word's
        spelling)."""
        return sum(n for n, _ in self.read(run))

    def read(self, run: str) -> list[tuple[int, str]]:
        """(syllables read, English) of each key or name found in `run`, left to right."""
        hangul, starts = run.replace(" ", ""), {0}
        for word in run.split(" ")[:-1]:
            starts.add(max(starts) + len(word))
        words, i = [], 0
        while i < len(hangul):
            name = self._name_at(hangul, i, starts) if i in starts else None
            # a key may run on into the next word (커피를 쏘) only from a word's start: one that starts inside a
            # word and crosses a space joins a word's ending to the next word (호수 위 read as 수위, "explicit")
            end = len(hangul) if i in starts else min([s for s in starts if s > i] + [len(hangul)])
            longest = range(min(self.longest, end - i), 0, -1)
            n, key = next(((n, k) for n in longest if (k := self._key(hangul[i : i + n]))), (0, None))
            if name and len(name) >= n:  # a longer benign key wins: 트럼프카드 (trump card)
                words.append((len(name), self.names[name]))
                i += len(name)
            elif n:
                words.append((n, self.table[key]))
                i += n
            else:
                i += 1
        return words

    def _key(self, piece: str) -> str | None:
        """The table key `piece` is: itself, or, for two syllables or more, the stem it conjugates when its last
        syllable carries an ending's final consonant (ㄴ ㄹ ㅁ ㅂ ㅆ): 뛰어내릴 -> 뛰어내리, 벗어난 -> 벗어나,
        삼킨 -> 삼키. The gloss's verb keys are stems, and Korean fuses these endings into the stem's last
        syllable, so the stem key alone never matched them."""
        if piece in self.table:
            return piece
        if len(piece) < 2 or piece[-1] == "있":  # 있 is the verb "to be" (살아있는), never a stem 이 + ㅆ
            return None
        offset = ord(piece[-1]) - 0xAC00
        if 0 <= offset < 11172 and _JONG[offset % 28] in "ㄴㄹㅁㅂㅆ":
            stem = piece[:-1] + chr(ord(piece[-1]) - offset % 28)
            return stem if stem in self.table else None
        return None

    def _name_at(self, hangul: str, i: int, starts: set[int]) -> str | None:
        """The longest name alias at word start `i` that is followed by the word's end or a particle."""
        for n in range(min(self.longest_name, len(hangul) - i), 1, -1):
            key = hangul[i : i + n]
            if key not in self.names:
                continue
            end = i + n
            word_end = min([s for s in starts if s >= end] + [len(hangul)])
            if end == word_end or hangul[end:word_end].startswith(_PARTICLES):
                return key
        return None


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


_WORD = re.compile(r"[a-z0-9]+")  # what a term's word is to _term_regex


def _first_words(terms: list[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The words `terms` start with, and the prefixes of those that end in *: a text holding none of them
    cannot match (most concepts, for most prompts; their regexes are most of the rules' time)."""
    exact, prefixes = set(), []
    for term in terms:
        words = re.sub(r"[^a-z0-9* ]+", " ", str(term).strip().lower()).split()
        if words and words[0].endswith("*"):
            prefixes.append(words[0].rstrip("*"))
        elif words:
            exact.add(words[0])
    return frozenset(exact), tuple(prefixes)


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


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """True when `a` and `b` differ by at most one insertion, deletion, substitution or swap of neighbours."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1 :] == shorter[i:]


@functools.lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """Whole English words of the MiniLM tokenizer's vocabulary (21k): a typo'd name is not one of them.
    Empty (no typo matching) if the encoder package is missing."""
    try:
        from haneul.models.text_encoder import default_encoder_dir

        lines = (default_encoder_dir() / "vocab.txt").read_text(encoding="utf-8").split()
    except (ImportError, OSError):
        return frozenset()
    return frozenset(w for w in lines if w.isascii() and w.isalpha())


@dataclass
class Rule:
    category: str
    concepts: list[str]
    ordered: bool  # `seq` rules: concepts in this order within `window` words; `all` rules: anywhere
    window: int
    unless: list[str]
    also: list[str]  # concepts that must appear anywhere too (a `seq` rule orders only its two concepts)


class Policy:
    """The policy files of `policy_dir`, compiled into regexes."""

    def __init__(self, policy_dir: Path = POLICY_DIR):
        data = yaml.safe_load((policy_dir / "policy.yaml").read_text(encoding="utf-8"))
        term_lists = [data["allow_phrases"], *data["block_terms"].values(), *data["concepts"].values()]
        self.allow = _term_regex(data["allow_phrases"])
        self.block = {cat: _term_regex(terms) for cat, terms in data["block_terms"].items() if terms}
        self.concepts = {name: _term_regex(terms) for name, terms in data["concepts"].items()}
        # which concepts a word can start (exactly, or by a prefix of its own): a concept no word of the prompt
        # can start is not searched for, and a rule needing one is not looked at (most, for most prompts)
        self.concepts_by_word: dict[str, set[str]] = {}
        self.concepts_by_prefix: dict[str, set[str]] = {}
        for name, terms in data["concepts"].items():
            exact, prefixes = _first_words(terms)
            for word in exact:
                self.concepts_by_word.setdefault(word, set()).add(name)
            for prefix in prefixes:
                self.concepts_by_prefix.setdefault(prefix, set()).add(name)
        self.rules = [
            Rule(
                r["category"],
                r.get("seq") or r["all"],
                "seq" in r,
                r.get("window", 1000),
                r.get("unless", []),
                r.get("also", []),
            )
            for r in data["rules"]
        ]
        unknown = sorted(
            {c for rule in self.rules for c in (*rule.concepts, *rule.unless, *rule.also)}
            - set(self.concepts)
        )
        if unknown:  # the prefilter below would skip such a rule without a word: it could never fire
            raise ValueError(f"policy rules name concepts that policy.yaml does not define: {unknown}")
        self.rule_needs = [frozenset(rule.concepts) for rule in self.rules]
        self.place_words = set(data["name_place_words"])
        table = yaml.safe_load((policy_dir / "ko_gloss.yaml").read_text(encoding="utf-8"))
        korean_names = {}
        # names by their first word (a dict lookup per word of the prompt, not one regex of 500 names), and
        # every name of 7 letters or more under each of its one-letter deletions (typo matching)
        self.names: dict[str, list[tuple[list[str], str]]] = {}
        self.fuzzy: dict[str, set[tuple[str, str]]] = {}
        # two-word names by their initials, for a typo in each word ("tayler swfit")
        self.fuzzy_pairs: dict[tuple[str, str], set[tuple[str, tuple[str, ...]]]] = {}
        self.common_words = _common_words()
        for category, fname in (
            ("public_figure", "public_figures.txt"),
            ("third_party_ip", "characters.txt"),
        ):
            latin = []
            for canonical, *aliases in _read_names(policy_dir / fname):
                for alias in [canonical, *aliases]:
                    if _HANGUL.search(alias):
                        korean_names[alias.replace(" ", "")] = canonical
                    else:
                        latin.append(alias)
            for alias in latin:
                alias_words = re.sub(r"[^a-z0-9 ]+", " ", alias).split()
                self.names.setdefault(alias_words[0], []).append((alias_words, category))
                if len(alias.replace(" ", "")) >= 7:
                    for key in _deletions(" ".join(alias_words)):
                        self.fuzzy.setdefault(key, set()).add((category, " ".join(alias_words)))
                if len(alias_words) == 2 and min(map(len, alias_words)) >= 3 and len(alias) >= 9:
                    pair = (alias_words[0][0], alias_words[1][0])
                    self.fuzzy_pairs.setdefault(pair, set()).add((category, tuple(alias_words)))
            term_lists.append(latin)
        words = {w.lower() for terms in term_lists for t in terms or [] for w in t.split()}
        self.vocab = {w for w in words if not w.endswith("*")}
        self.vocab_prefixes = tuple(w[:-1] for w in words if w.endswith("*") and len(w) > 4)
        self.gloss = Gloss({k: str(v) for k, v in table.items()}, korean_names)

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
        for i, word in enumerate(words):
            for alias, cat in self.names.get(word, ()):
                last = i + len(alias) - 1
                if words[i : last + 1] != alias:
                    continue
                if cat == "public_figure" and last + 1 < len(words) and words[last + 1] in self.place_words:
                    continue  # "Trump Tower", "the Paris Hilton hotel"
                out.append((cat, f"name {' '.join(alias)!r}"))
        if not any(cat in NAME_CATEGORIES for cat, _ in out):
            out += self._misspelled_names(words)
        found: dict[str, list] = {}  # each concept's matches, found once per text: rules share concepts
        possible = self._possible_concepts(set(_WORD.findall(text)))
        for rule, needs in zip(self.rules, self.rule_needs, strict=True):
            if not needs <= possible:
                continue
            if self._fires(rule, text, ordered=rule.ordered and not korean, found=found, possible=possible):
                out.append((rule.category, "rule " + (" -> " if rule.ordered else " + ").join(rule.concepts)))
        return out

    def _possible_concepts(self, present: set[str]) -> set[str]:
        """The concepts some term of which starts with a word of `present`: the others cannot match."""
        possible: set[str] = set()
        for word in present:
            possible.update(self.concepts_by_word.get(word, ()))
            for end in range(len(word) + 1):  # from 0: a first word "*" starts any word
                possible.update(self.concepts_by_prefix.get(word[:end], ()))
        return possible

    def _misspelled_names(self, words: list[str]) -> list[tuple[str, str]]:
        """Names one typo or one leftover obfuscation away ("b1yonce" -> "biyonce", "zuckerburg"): runs of 1-3
        words, at least one of them not an everyday English word (so "the hull" is not "the hulk"), within one
        edit of a name of 7 letters or more, first letter kept."""
        out = []
        rare = [w not in self.common_words and not w.isdigit() for w in words]
        for n in (1, 2, 3):
            for i in range(len(words) - n + 1):
                gram = " ".join(words[i : i + n])
                if len(gram) < 6 or not any(rare[i : i + n]):
                    continue
                for key in _deletions(gram):
                    for cat, name in self.fuzzy.get(key, ()):
                        if name[0] == gram[0] and _one_edit(gram, name):
                            out.append((cat, f"name {name!r} (spelled {gram!r})"))
        # a two-word name with a typo in each word, both words rare ("tayler swfit"; "tom hands" is English)
        for i in range(len(words) - 1):
            first, second = words[i], words[i + 1]
            if len(first) < 3 or len(second) < 3 or not (rare[i] and rare[i + 1]):
                continue
            for cat, name in self.fuzzy_pairs.get((first[0], second[0]), ()):
                if _one_edit(first, name[0]) and _one_edit(second, name[1]):
                    out.append((cat, f"name {' '.join(name)!r} (spelled {first + ' ' + second!r})"))
        return out

    def _fires(
        self, rule: Rule, text: str, ordered: bool, found: dict[str, list], possible: set[str]
    ) -> bool:
        """Whether `rule` fires on `text`; `found` caches each concept's matches in `text`, `possible` holds the
        concepts its words can start (`_possible_concepts`). Plain loops, no closure: this runs for every rule
        of every prompt."""
        hits = []
        for concept in rule.concepts:
            found_here = self._concept_matches(concept, text, found, possible)
            if not found_here:
                return False
            hits.append(found_here)
        for concept in rule.unless:
            if self._concept_matches(concept, text, found, possible):
                return False
        for concept in rule.also:
            if not self._concept_matches(concept, text, found, possible):
                return False
        if rule.window >= 1000:
            return True
        first, second = hits  # seq rules have two concepts
        for a_start, a_end, _ in first:
            for b_start, b_end, _ in second:
                gap = b_start - a_end if ordered else max(b_start - a_end, a_start - b_end)
                if 0 < gap <= rule.window:
                    return True
        return False

    def _concept_matches(
        self, concept: str, text: str, found: dict[str, list], possible: set[str]
    ) -> list[tuple[int, int, str]]:
        """`concept`'s matches in `text`, found once per text (rules share concepts); a concept not in
        `possible` (no term starts with a word of `text`) is not searched for."""
        cached = found.get(concept)
        if cached is not None:
            return cached
        cached = _matches(self.concepts[concept], text) if concept in possible else []
        found[concept] = cached
        return cached


# ---------------------------------------------------------------- the embedding head


def _read_exemplars(path: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [r["text"] for r in rows], [r["category"] for r in rows]


def neighbour_rows(splits: tuple[str, ...] = NEIGHBOUR_SPLITS, path: Path = LABELLED) -> list[dict]:
    """The labelled prompts of `splits` that the head can learn from, in file order, each with its head
    `label`: benign for allow rows, the category for block rows of a head category (sexual_minors as sexual)."""
    rows = []
    for ln in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(ln) if ln.strip() else None
        if row is None or row["split"] not in splits:
            continue
        label = BENIGN if row["label"] == "allow" else row["category"].replace("sexual_minors", "sexual")
        if label == BENIGN or label in HEAD_CATEGORIES:
            rows.append({**row, "label": label})
    return rows


def labelled_neighbours(splits: tuple[str, ...] = NEIGHBOUR_SPLITS, path: Path = LABELLED):
    """(texts, labels) of `neighbour_rows`: what joins the exemplars in the head."""
    rows = neighbour_rows(splits, path)
    return [r["text"] for r in rows], [r["label"] for r in rows]


_CLAUSE = re.compile(r"[,;:.!?()\n]+|\s[-–—]+\s")


def head_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "haneul" / "moderation"


@dataclass(frozen=True)
class HeadVerdict:
    """What the head thinks of one prompt: its nearest harmful class, by how much that class's neighbours are
    closer than the benign ones (`margin`), and the nearest exemplar of that class (to explain a refusal)."""

    category: str
    margin: float
    similarity: float  # mean cosine similarity of the k nearest exemplars of `category`
    nearest: str

    @property
    def blocks(self) -> bool:
        return self.margin >= HEAD_MARGIN


class _Hidden(torch.nn.Module):
    """The encoder's last hidden states as a function of (input_ids, attention_mask): what `embed` pools, in a
    form torch.jit.trace takes."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _length_groups(lengths: list[int], batch_size: int, waste: float = 0.25) -> list[range]:
    """Runs of `lengths` (sorted ascending) of at most `batch_size` whose padding to their longest adds at
    most `waste` of their tokens; each run costs one call of the encoder, so runs are not split further."""
    groups, start = [], 0
    for end in range(1, len(lengths) + 1):
        if end < len(lengths):
            size, longest = end + 1 - start, lengths[end]
            if size <= batch_size and longest * size <= (1 + waste) * sum(lengths[start : end + 1]):
                continue
        groups.append(range(start, end))
        start = end
    return groups


class EmbeddingHead:
    """k nearest neighbours over the exemplars' MiniLM sentence embeddings (mean-pooled, L2-normalised, as
    sentence-transformers' config says). For each class, the mean cosine similarity of the prompt's `k`
    nearest exemplars of that class; a harmful class wins when it beats benign by HEAD_MARGIN. Nothing is
    fitted, so a refusal can name the exemplar it resembles, and editing exemplars.jsonl is the whole
    retraining.

    Embedding the exemplars is most of the load time, so their embeddings are cached on disk under a hash of
    everything they depend on (encoder, normalised exemplars): edit the exemplars or the policy and they are
    embedded afresh."""

    def __init__(
        self,
        encoder,
        texts: list[str],
        labels: list[str],
        k: int = HEAD_K,
        cache: bool = True,
        fast: bool = False,
    ):
        """`fast`: run the encoder the fastest way it passes its check (`freeze`) before embedding the
        exemplars, so that they are embedded by the same arithmetic as the prompts."""
        self.encoder = encoder
        self.classes = [BENIGN, *HEAD_CATEGORIES]
        self.texts = texts
        self.labels = torch.tensor([self.classes.index(label) for label in labels])
        self.k = k
        self.cache = cache
        self.hidden_states: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = _Hidden(encoder.model)
        self.runtime_key = ""  # what else the exemplar vectors depend on: the int8 model's digest
        self.runtime = "eager"
        # what _by_class grouped: `vectors`, `labels` and their in-place edit counts
        self._grouped_for: tuple[torch.Tensor, torch.Tensor, int, int] | None = None
        if fast:
            self.runtime = self._speed_up()
        if fast and self.runtime != INT8_RUNTIME:
            warnings.warn(
                f"the prompt check's int8 encoder did not load; it runs as {self.runtime!r}, whose decisions "
                "can differ at the margin from the measured ones (docs/safety.md)",
                stacklevel=2,
            )
        self.vectors = self._exemplar_vectors()

    def _exemplar_vectors(self) -> torch.Tensor:
        """The exemplars' embeddings by the encoder as it runs now, from the disk cache if they are there.
        Only int8 changes the numbers enough to need its own entry (the other runtimes agree within 1e-5),
        keyed on the int8 model's own bytes."""
        from haneul.safety.onnx_encoder import mark_used, prune, write_atomically

        blob = [str(getattr(self.encoder, "name", "")), self.texts]
        if self.runtime == INT8_RUNTIME:
            blob.insert(1, f"int8 {self.runtime_key}")
        digest = hashlib.sha256(json.dumps(blob, ensure_ascii=False).encode()).hexdigest()[:20]
        path = head_cache_dir() / f"exemplars-{digest}.pt"
        if self.cache and path.is_file():
            try:
                vectors = torch.load(path)
                if vectors.shape[0] == len(self.texts):
                    mark_used(path)
                    return vectors
            except Exception:  # noqa: BLE001 - an unreadable cache entry is embedded again and replaced
                pass
        vectors = self.embed(self.texts)
        if self.cache:
            buffer = io.BytesIO()
            torch.save(vectors, buffer)
            write_atomically(path, buffer.getvalue())
            prune(list(path.parent.glob("exemplars-*.pt")), EXEMPLAR_CACHE_ENTRIES, written=path)
        return vectors

    @torch.no_grad()
    def embed(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """(N, D) unit-length sentence embeddings.

        Texts of similar length are run together: a batch is padded to its longest text, so one long prompt
        would make every short one in its batch cost as much (the API's batches of ten world prompts and
        their clauses: 10% less CPU). Padding is masked: the embeddings are the same as one padded batch's."""
        if not texts:
            return torch.empty(0, self.encoder.model.config.hidden_size)
        tok = self.encoder.tokenizer(texts, truncation=True, max_length=self.encoder.max_length)
        order = sorted(range(len(texts)), key=lambda i: len(tok["input_ids"][i]))
        out = torch.empty(len(texts), self.encoder.model.config.hidden_size)
        # int8 runs each text alone, without its padding: any lengths can share a call (and its threads)
        waste = math.inf if self.runtime == INT8_RUNTIME else 0.25
        for group in _length_groups([len(tok["input_ids"][i]) for i in order], batch_size, waste):
            rows = [order[i] for i in group]
            batch = self.encoder.tokenizer.pad(
                {"input_ids": [tok["input_ids"][i] for i in rows]}, return_tensors="pt"
            )
            hidden = self.hidden_states(batch["input_ids"], batch["attention_mask"])
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[rows] = torch.nn.functional.normalize(pooled.float(), dim=-1)
        return out

    @torch.no_grad()
    def freeze(self, quantized: bool = True) -> str:
        """Run the encoder faster from now on (`_speed_up`) and embed the exemplars again if the numbers
        changed. Returns what runs the encoder: "onnxruntime-int8", "onnxruntime", "torchscript" or "eager"."""
        self.hidden_states = _Hidden(self.encoder.model)
        self.runtime = self._speed_up(quantized)
        self.vectors = self._exemplar_vectors()
        return self.runtime

    @torch.no_grad()
    def _speed_up(self, quantized: bool = True) -> str:
        """Switch `hidden_states` to the fastest runtime whose embeddings of a few probes pass its check.

        - "onnxruntime-int8" (`quantized`): ONNX Runtime with int8 weights, 3.9 -> 2 ms a prompt on one core
          (`onnx_encoder.quantize`). Its embeddings are not torch's (cosine 0.993 median, 0.967 least over
          1,500 labelled prompts), so the check only asks for cosine >= INT8_MIN_COSINE, which a wrong
          export or another model fails; what it does to decisions is measured (docs/safety.md).
        - "onnxruntime": the same fp32 model, within 1e-5 of torch (one short prompt: 8.1 -> 3.9 ms).
        - "torchscript": a frozen trace if it embeds bit-identically (the same arithmetic without the
          transformers model's Python: 12.9 -> 9.1 ms; a trace records one path through the model's code,
          another transformers version may take another).
        - "eager": torch as loaded, if none of these passes."""
        probes = [["a ball", "a red ball bounces on the green grass near a tall tree"], ["two cubes"]]
        tok = self.encoder.tokenizer(probes[0], padding=True, return_tensors="pt")  # padded: masks traced
        example = (tok["input_ids"], tok["attention_mask"])
        eager = [self.embed(texts) for texts in probes]
        eager_forward = self.hidden_states

        def within(tolerance: float) -> Callable[[torch.Tensor, torch.Tensor], bool]:
            return lambda got, want: torch.allclose(got, want, rtol=0.0, atol=tolerance)

        def cosine(got: torch.Tensor, want: torch.Tensor) -> bool:
            return bool(((got * want).sum(1) >= INT8_MIN_COSINE).all())

        candidates = [
            ("onnxruntime", lambda ex: self._onnx(ex, int8=False), within(1e-5)),
            ("torchscript", self._trace, within(0.0)),
        ]
        if quantized:
            candidates.insert(0, (INT8_RUNTIME, lambda ex: self._onnx(ex, int8=True), cosine))
        for name, faster, close in candidates:
            try:
                self.hidden_states = faster(example)
                same = all(close(self.embed(texts), want) for texts, want in zip(probes, eager, strict=True))
            except Exception:  # noqa: BLE001 - a faster encoder is an optimisation; eager always works
                same = False
            if same:
                return name
            self.hidden_states = eager_forward
        return "eager"

    def _onnx(self, example: tuple[torch.Tensor, torch.Tensor], int8: bool) -> Callable:
        from haneul.safety import onnx_encoder

        if not onnx_encoder.available():
            raise ImportError("onnxruntime or onnx is not installed")
        # the name and a checksum of the weights: another version of the same model gets its own export
        weights = sum(float(p.double().sum()) for p in self.encoder.model.parameters())
        key = f"{getattr(self.encoder, 'name', '')}|{weights!r}"
        module, cache_dir = _Hidden(self.encoder.model), head_cache_dir()
        # int8 runs each text alone (a prompt's batch must not matter), two texts at a time
        options = {"one_at_a_time": True, "parallel": 2} if int8 else {}
        try:
            model = onnx_encoder.cached_model(module, example, key, cache_dir, int8)
            run = onnx_encoder.hidden_states(model, **options)
        except Exception:  # noqa: BLE001 - a cached file that does not load (cut short): build it again
            model = onnx_encoder.cached_model(module, example, key, cache_dir, int8, rebuild=True)
            run = onnx_encoder.hidden_states(model, **options)
        if int8:
            self.runtime_key = hashlib.sha256(model).hexdigest()[:20]
        return run

    def _trace(self, example: tuple[torch.Tensor, torch.Tensor]) -> Callable:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about the model's Python branches
            traced = torch.jit.trace(_Hidden(self.encoder.model), example, strict=False)
            return torch.jit.freeze(traced.eval())

    def _by_class(self) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """The exemplar vectors as one (D, N) matrix grouped by class, each class's [start, end) in it, and
        each column's row in `vectors`. Built again when `vectors` or `labels` are replaced (`freeze`, the
        bench's leave-one-out) or edited in place (torch counts a tensor's in-place edits in `_version`): a
        class is then a slice of one product, not a boolean-indexed copy, which made the scoring a third of a
        single prompt's check beside the int8 encoder."""
        seen = self._grouped_for
        if (
            seen is None
            or seen[0] is not self.vectors
            or seen[1] is not self.labels
            or seen[2:] != (self.vectors._version, self.labels._version)
        ):
            order = np.argsort(self.labels.numpy(), kind="stable")
            counts = np.bincount(self.labels.numpy(), minlength=len(self.classes))
            bounds = np.concatenate([[0], np.cumsum(counts)])
            self._grouped = (self.vectors[torch.from_numpy(order)].T.contiguous(), bounds, order)
            self._grouped_for = (self.vectors, self.labels, self.vectors._version, self.labels._version)
        return self._grouped

    def _class_scores(self, sims: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """(B, classes): per class, the mean of each row's k largest cosine similarities `sims` (B, exemplars,
        grouped by class between `bounds`) to exemplars of that class; -1 for a class without exemplars."""
        out = np.full((len(sims), len(self.classes)), -1.0, dtype=np.float32)
        for i in range(len(self.classes)):
            mine = sims[:, bounds[i] : bounds[i + 1]]
            k = min(self.k, mine.shape[1])
            if k:
                out[:, i] = np.partition(mine, mine.shape[1] - k, axis=1)[:, -k:].mean(1)
        return out

    def verdict(self, text: str) -> HeadVerdict:
        return self.verdicts([text])[0]

    @torch.no_grad()
    def verdicts(self, texts: list[str]) -> list[HeadVerdict]:
        """`verdict` of each of `texts`, embedded and scored as one batch: embedding is nearly all of a
        verdict's cost, and a batch of ten costs about what two or three single prompts do."""
        if not texts:
            return []
        grouped, bounds, order = self._by_class()
        sims = (self.embed(texts) @ grouped).numpy()  # torch's product: numpy's BLAS would spin threads
        scores = self._class_scores(sims, bounds)
        out = []
        for row, c in enumerate(scores[:, 1:].argmax(1) + 1):  # classes[0] is benign
            start, end = bounds[c], bounds[c + 1]
            # the nearest exemplar of the winning class; none when no harmful class has exemplars (a head
            # of benign exemplars only wins with the score -1 of an empty class)
            nearest = self.texts[int(order[start + sims[row, start:end].argmax()])] if end > start else ""
            margin, similarity = float(scores[row, c] - scores[row, 0]), float(scores[row, c])
            out.append(HeadVerdict(self.classes[c], margin, similarity, nearest))
        return out


# ---------------------------------------------------------------- the moderator


class Moderator:
    """Policy rules first (exact, explainable), then the embedding head for what the rules do not name."""

    def __init__(self, policy: Policy, head: EmbeddingHead | None, load_seconds: float = 0.0):
        self.policy = policy
        self.head = head
        self.load_seconds = load_seconds

    @classmethod
    def load(
        cls,
        encoder=None,
        policy_dir: Path = POLICY_DIR,
        use_head: bool = True,
        neighbour_splits: tuple[str, ...] = NEIGHBOUR_SPLITS,
        fast: bool = True,
    ) -> Moderator:
        """`encoder`: a loaded `TextEncoder` to share (the generation pipeline's); loaded here if None.
        `neighbour_splits`: the labelled splits whose prompts join the exemplars (the bench leaves one out).
        `fast`: the head's encoder runs the fastest way that passes its check (int8 under ONNX Runtime where
        it is installed; `EmbeddingHead.freeze`), the same in the CLI, the server and the bench."""
        start = time.perf_counter()
        policy = Policy(policy_dir)
        head = None
        if use_head:
            if encoder is None:
                from haneul.models.text_encoder import shared_encoder

                encoder = shared_encoder()
            texts, labels = _read_exemplars(policy_dir / "exemplars.jsonl")
            more_texts, more_labels = labelled_neighbours(neighbour_splits)
            texts, labels = texts + more_texts, labels + more_labels
            head = EmbeddingHead(
                encoder, [policy.without_allowed(policy.normalize(t)) for t in texts], labels, fast=fast
            )
        return cls(policy, head, time.perf_counter() - start)

    def moderate(self, text: str) -> ModerationResult:
        return self.moderate_many([text])[0]

    def moderate_many(self, texts: list[str]) -> list[ModerationResult]:
        """`moderate` of each of `texts`, with the prompts that reach the embedding head embedded as one batch
        (the API's prompt checker asks the prompts of concurrent requests together)."""
        ruled = [self.policy.without_allowed(self.policy.normalize(t)) for t in texts]
        by_rules = [self._by_rules(t, r) for t, r in zip(texts, ruled, strict=True)]
        # the head reads what the rules read: a phrase the policy calls benign ("bath bomb") counts for nothing
        pending = [(t, r) for t, r, res in zip(texts, ruled, by_rules, strict=True) if res is None and r]
        parts = {r: self._head_parts(t, r) for t, r in pending}
        asked = sorted({p for ps in parts.values() for p in ps})
        verdicts = {}
        if self.head is not None and asked:
            verdicts = dict(zip(asked, self.head.verdicts(asked), strict=True))
        return [
            res if res is not None else self._by_head(r, self._worst(verdicts, parts.get(r, [])))
            for r, res in zip(ruled, by_rules, strict=True)
        ]

    def clauses(self, text: str) -> list[str]:
        """The normalised clauses of `text` (3+ words, at most MAX_CLAUSES), or [] if it has fewer than two."""
        found = []
        for part in _CLAUSE.split(text):
            ruled = self.policy.without_allowed(self.policy.normalize(part))
            if len(ruled.split()) >= 3:
                found.append(ruled)
        return found[:MAX_CLAUSES] if len(found) >= 2 else []

    def _head_parts(self, text: str, ruled: str) -> list[str]:
        """What the head judges of `text` (normalised: `ruled`): the whole, then its clauses."""
        return [ruled, *self.clauses(text)]

    def head_verdict(self, text: str) -> HeadVerdict:
        """The head's verdict on `text` alone, rules aside (the bench scores the two parts separately)."""
        ruled = self.policy.without_allowed(self.policy.normalize(text)) or " "
        parts = self._head_parts(text, ruled)
        return self._worst(dict(zip(parts, self.head.verdicts(parts), strict=True)), parts)

    @staticmethod
    def _worst(verdicts: dict[str, HeadVerdict], parts: list[str]) -> HeadVerdict | None:
        """The verdict of the whole prompt or of its clause that is nearest to a harmful class."""
        return max((verdicts[p] for p in parts if p in verdicts), key=lambda v: v.margin, default=None)

    def _by_rules(self, text: str, ruled: str) -> ModerationResult | None:
        """The refusal of the policy rules, or None if they let `ruled` (normalised `text`) through."""
        hits = self.policy.hits(ruled, korean=bool(_HANGUL.search(_fold(text))))
        if not hits:
            return None
        category, reason = min(hits, key=lambda h: CATEGORIES.index(h[0]))
        return ModerationResult(False, self._minors(category, ruled), 1.0, reason)

    def _by_head(self, ruled: str, head: HeadVerdict | None) -> ModerationResult:
        """The head's decision on `ruled`; `head` is None when there is no head or nothing left to read."""
        if head is None:
            return ModerationResult(True, None, 0.0, "")
        score = min(max(head.similarity, 0.0), 0.999)
        if head.blocks:
            reason = f"embedding head: {head.margin:+.2f} nearer {head.category} than benign (like {head.nearest!r})"
            return ModerationResult(False, self._minors(head.category, ruled), score, reason)
        return ModerationResult(True, None, score, "")

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
        raise ModerationBlocked(result.category, result.message)
