"""Prompt moderation. (Placeholder until the safety work lands: it checks nothing yet.)"""


def check_prompt(text: str) -> None:
    """Raise `haneul.errors.ModerationBlocked` if `text` breaks the usage policy."""
    return None
