"""``mockingbird slack --socket | --http --port P [--processes N]``: run the Slack bot."""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command()
    def slack(
        socket: Annotated[
            bool, typer.Option("--socket", help="Socket Mode (needs SLACK_APP_TOKEN).")
        ] = False,
        http: Annotated[
            bool, typer.Option("--http", help="HTTP mode: Slack posts to /slack/events.")
        ] = False,
        port: Annotated[int, typer.Option(help="HTTP port.", min=0, max=65535)] = 3000,
        host: Annotated[str, typer.Option(help="HTTP address to listen on.")] = "0.0.0.0",
        workers: Annotated[int, typer.Option(help="Threads doing model and database work.", min=1)] = 64,
        threads: Annotated[
            int, typer.Option(help="HTTP threads (they only verify and acknowledge).", min=1)
        ] = 16,
        processes: Annotated[
            int,
            typer.Option(
                help="HTTP mode: serve from this many processes (gunicorn workers), each with its own "
                "--workers and --threads. Use about one per CPU core for a busy workspace.",
                min=1,
            ),
        ] = 1,
    ) -> None:
        """Run the Slack bot (`/interview`, ratings, corrections, `/interview-stats`, App Home)."""
        from bot.app import build_engine
        from bot.config import get_settings
        from bot.slack.app import ConfigError, build_app

        if socket == http:
            err.print("[red]Choose one mode: --socket (Socket Mode) or --http --port P (HTTP mode).[/]")
            raise typer.Exit(2)
        if processes > 1 and (socket or port == 0):
            err.print("[red]--processes needs HTTP mode on a fixed port (--http --port P): Socket Mode is one "
                      "connection, and the workers could not tell which port a random one is.[/]")
            raise typer.Exit(2)
        settings = get_settings()
        if socket and settings.slack_app_token is None:
            err.print("[red]SLACK_APP_TOKEN is not set; Socket Mode needs the app-level token (xapp-…).[/]")
            raise typer.Exit(2)
        try:
            engine = build_engine(settings, serving=processes == 1)  # with processes, each worker warms its own
            bolt = build_app(engine, settings, workers=workers, socket_mode=socket)
        except ConfigError as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from exc
        except Exception as exc:  # e.g. auth.test rejecting the token at startup
            err.print(f"[red]Could not start the Slack app: {exc}[/]")
            raise typer.Exit(1) from exc
        from bot.ops import start_ops_server
        from bot.ops.heap import freeze_startup_heap

        start_ops_server(settings)  # /healthz, /livez, /metrics on METRICS_PORT (off when unset)
        if socket:
            freeze_startup_heap()
            from bot.slack.server import run_socket_mode

            assert settings.slack_app_token is not None
            err.print("Connecting to Slack in Socket Mode…")
            run_socket_mode(bolt, settings.slack_app_token.get_secret_value())
            return
        if processes > 1:
            from bot.ops.server import MULTIPROC_ENV, reset_multiprocess_dir
            from bot.slack.server import serve_processes

            reset_multiprocess_dir()  # the workers' samples, summed by /metrics
            if not os.environ.get(MULTIPROC_ENV):
                err.print(f"[yellow]{MULTIPROC_ENV} is not set: /metrics shows only this parent process, "
                          "not the workers that serve Slack.[/]")

            # The app above only checked the settings and the token; each worker builds its own.
            bolt.listener_runner.listener_executor.shutdown()
            engine.close()
            err.print(f"Listening on http://{host}:{port}/slack/events with {processes} processes "
                      "(health: /healthz)", soft_wrap=True)
            serve_processes(
                lambda: build_app(build_engine(settings, serving=True), settings, workers=workers),
                host=host, port=port, processes=processes, threads=threads,
            )
            err.print("Stopped.")
            return
        from bot.slack.server import HttpServer

        server = HttpServer(bolt, host=host, port=port, threads=threads)

        def _terminate(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(0)  # waitress's run() stops on it, as on Ctrl-C

        signal.signal(signal.SIGTERM, _terminate)
        freeze_startup_heap()
        err.print(f"Listening on http://{host}:{server.port}/slack/events (health: /healthz)", soft_wrap=True)
        server.serve_forever()
        bolt.listener_runner.listener_executor.shutdown(wait=True)
        err.print("Stopped.")
