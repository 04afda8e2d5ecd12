"""Shared fixtures: one text encoder per test session (it takes seconds to load), tiny models."""

import pytest


@pytest.fixture(scope="session")
def text_encoder():
    from haneul.models.text_encoder import TextEncoder

    return TextEncoder.from_dir()


@pytest.fixture(scope="session")
def tiny_pipe(text_encoder):
    from haneul.testing import tiny_pipeline

    return tiny_pipeline(seed=0, text_encoder=text_encoder)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_pipe):
    folder = tmp_path_factory.mktemp("tiny-model")
    tiny_pipe.save_pretrained(folder, dtype="fp32")
    return folder


@pytest.fixture(scope="session")
def moderator():
    """The default prompt moderator (loaded once per process by `default_moderator`)."""
    from haneul.safety.moderation import default_moderator

    return default_moderator()


@pytest.fixture(scope="session", autouse=True)
def signing_keys_dir(tmp_path_factory):
    """Every output is C2PA-signed: keep the test session's signing keys out of ~/.config/haneul/keys."""
    import os

    if "HANEUL_KEYS_DIR" not in os.environ:
        os.environ["HANEUL_KEYS_DIR"] = str(tmp_path_factory.mktemp("haneul-keys"))
    yield
