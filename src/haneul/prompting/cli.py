"""`haneul expand PROMPT` and `haneul caption DIR`."""

import typer

app = typer.Typer()
