"""``python -m bot`` is the ``mockingbird`` command."""

from bot.cli import app

app(prog_name="mockingbird")
