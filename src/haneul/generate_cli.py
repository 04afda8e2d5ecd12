"""`haneul generate` and `haneul info`."""

import typer


def register(app: typer.Typer) -> None:
    pass
