"""`python -m haneul.serve worker ...`: how `haneul serve` starts its local workers."""

from haneul.serve.cli import app

app()
