"""The exceptions a user can cause, so every entry point (CLI, Python, HTTP) reports them the same way."""


class InputError(ValueError):
    """Bad user input: a size off the model's grid, an empty prompt, an unreadable file.

    The message names the bad value and what would have been valid. The CLI prints it on one line and
    exits with code 2; the HTTP API returns it as a 400 in OpenAI's error shape.
    """

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class ModerationBlocked(Exception):
    """A prompt or an output was refused by the usage policy. CLI exit code 3, HTTP 400 moderation_blocked."""

    def __init__(self, category: str, message: str):
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message
