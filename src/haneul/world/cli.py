"""`haneul world ...`: render a prompt in the procedural world, export a data set."""

import typer

app = typer.Typer(
    help="The procedural world: render prompts as ground-truth videos, export training data.",
    no_args_is_help=True,
)
