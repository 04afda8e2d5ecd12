"""`python -m haneul` runs the `haneul` command."""

from haneul.cli import app

app()
