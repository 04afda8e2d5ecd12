"""`haneul verify FILE` and `haneul keys init`."""

import typer

app = typer.Typer()
keys_app = typer.Typer(help="Signing keys for C2PA provenance.", no_args_is_help=True)
