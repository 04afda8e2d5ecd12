"""API keys of `haneul serve`: from a file and from $HANEUL_API_KEYS, `name=key` or bare keys, short keys
refused with a message, and one generated key (kept private in the data directory) when none is given."""

from __future__ import annotations

import stat

import pytest

from haneul.errors import InputError
from haneul.serve.config import KEYS_ENV, load_keys, owner_of, parse_keys


def test_parse_keys_names_comments_and_bare_keys():
    keys = parse_keys(["# team keys", "", "alice=sk-alice-0123456789abcdef", "  sk-bare-0123456789abcdef  "])
    assert keys == {
        "sk-alice-0123456789abcdef": "alice",
        "sk-bare-0123456789abcdef": owner_of("sk-bare-0123456789abcdef"),
    }
    assert "sk-bare" not in owner_of("sk-bare-0123456789abcdef")  # the stored owner name is not the key


def test_short_key_is_refused_naming_the_rule():
    with pytest.raises(InputError, match="at least 16"):
        parse_keys(["bob=short"])


def test_keys_from_file_and_environment(tmp_path, monkeypatch):
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("alice=sk-alice-0123456789abcdef\n")
    monkeypatch.setenv(KEYS_ENV, "bob=sk-bob-0123456789abcdef,sk-carol-0123456789abcdef")
    keys, generated = load_keys(keys_file, tmp_path)
    assert generated is None and not (tmp_path / "api_key.txt").exists()
    assert set(keys) == {"sk-alice-0123456789abcdef", "sk-bob-0123456789abcdef", "sk-carol-0123456789abcdef"}
    with pytest.raises(InputError, match="does not exist"):
        load_keys(tmp_path / "missing.txt", tmp_path)


def test_without_keys_one_is_generated_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv(KEYS_ENV, raising=False)
    keys, generated = load_keys(None, tmp_path)
    assert generated.startswith("sk-haneul-") and list(keys) == [generated]
    assert stat.S_IMODE((tmp_path / "api_key.txt").stat().st_mode) == 0o600  # only its owner can read it
    assert load_keys(None, tmp_path) == (keys, generated)  # the same key after a restart
