"""The `haneul` command. Thin: each command builds a request and calls the library.

Every area keeps its commands in its own `cli.py` (world, eval, train, serve, safety, prompting);
this file only joins them and holds `generate` and `info`.
"""

from __future__ import annotations

import typer

from haneul.eval.cli import app as eval_app
from haneul.prompting.cli import app as prompting_app
from haneul.safety.cli import app as safety_app
from haneul.safety.cli import keys_app
from haneul.serve.cli import app as serve_app
from haneul.train.cli import app as train_app
from haneul.world.cli import app as world_app

app = typer.Typer(
    help="haneul: open text-to-video. Generate, serve an OpenAI-compatible Videos API, train, evaluate, verify.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(world_app, name="world")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.add_typer(keys_app, name="keys")
app.add_typer(serve_app)
app.add_typer(safety_app)
app.add_typer(prompting_app)

from haneul import generate_cli  # noqa: E402  (registers generate, info, join, storyboard on `app`)

generate_cli.register(app)
