"""`haneul serve` and `haneul worker`."""

import typer

app = typer.Typer()
