"""`haneul eval ...`: the world-simulation benchmark."""

import typer

app = typer.Typer(help="Measure a model: the world-simulation benchmark.", no_args_is_help=True)
