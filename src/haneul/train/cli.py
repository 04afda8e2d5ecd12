"""`haneul train vae|dit CONFIG`."""

import typer

app = typer.Typer(help="Train the VAE or the diffusion transformer.", no_args_is_help=True)
