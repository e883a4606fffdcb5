"""Every command the Procfile, docker-compose.yml and the Kubernetes manifests run names a real entry point.

``mockingbird ...`` is resolved through the Typer app's click object (subcommands and options,
parsed as the CLI would); ``celery -A tasks ...`` loads the Celery app the way ``celery`` does,
checks the subcommand and its options, and imports any ``--include`` module. Nothing runs.
"""

from __future__ import annotations

import importlib
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
_DEFAULTED = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")
_REQUIRED = re.compile(r"\$\{(\w+):?\?[^}]*\}")


class BadEntryPoint(AssertionError):
    pass


def _expand(text: str) -> str:
    """Shell / compose interpolation with the defaults written in the file (``${X:-d}`` -> d)."""
    text = _REQUIRED.sub("value", text)
    return _DEFAULTED.sub(lambda m: m.group(2) if m.group(2) is not None else "value", text)


# Typer ships its own copy of click, so commands are recognised by shape, not by class.
def _is_group(command: Any) -> bool:
    return hasattr(command, "list_commands") and hasattr(command, "get_command")


def _option_names(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        if getattr(param, "param_type_name", "") == "option"
        for opt in (*param.opts, *param.secondary_opts)
    } | {"--help"}


def _check_options(command: Any, args: list[str], where: str) -> None:
    if command.context_settings.get("ignore_unknown_options"):
        return
    known = _option_names(command)
    for arg in args:
        if arg == "--":
            return
        if arg.startswith("-") and arg.split("=", 1)[0] not in known:
            raise BadEntryPoint(f"{where}: {command.name} has no option {arg.split('=', 1)[0]}")


def _check_mockingbird(args: list[str], where: str) -> None:
    from typer.main import get_command

    from bot.cli import app

    command: Any = get_command(app)
    ctx = command.context_class(command, info_name="mockingbird")
    rest = list(args)
    path = ["mockingbird"]
    while _is_group(command):
        if not rest or rest[0].startswith("-"):
            raise BadEntryPoint(f"{where}: `{' '.join(path)}` needs a subcommand")
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        if sub is None:
            raise BadEntryPoint(f"{where}: `{' '.join(path)}` has no subcommand {name!r}")
        path.append(name)
        command, ctx = sub, sub.context_class(sub, info_name=name, parent=ctx)
    try:  # parse (types, unknown options, extra arguments) without invoking anything
        command.make_context(path[-1], rest, parent=ctx.parent)
    except Exception as exc:
        if not hasattr(exc, "format_message"):  # not a usage error: a real failure, show it
            raise
        raise BadEntryPoint(f"{where}: `{' '.join(path)}` rejects {rest}: {exc.format_message()}") from exc


def _check_celery(args: list[str], where: str) -> None:
    from celery import Celery
    from celery.app.utils import find_app
    from celery.bin.celery import celery as celery_group

    top = _option_names(celery_group)
    rest = list(args)
    app_name = None
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        name, _, value = option.partition("=")
        if name not in top:
            raise BadEntryPoint(f"{where}: celery has no option {name}")
        if name in ("-A", "--app"):
            app_name = value or rest.pop(0)
    if app_name is None:
        raise BadEntryPoint(f"{where}: celery without -A names no app")
    app = find_app(app_name)
    if not isinstance(app, Celery):
        raise BadEntryPoint(f"{where}: -A {app_name} is {type(app).__name__}, not a Celery app")
    if not rest or rest[0] not in celery_group.commands:
        raise BadEntryPoint(f"{where}: celery has no subcommand {rest[:1]}")
    command = celery_group.commands[rest.pop(0)]
    _check_options(command, rest, where)
    for i, arg in enumerate(rest):
        if arg in ("-I", "--include") or arg.startswith("--include="):
            modules = arg.split("=", 1)[1] if "=" in arg else rest[i + 1]
            for module in modules.split(","):
                importlib.import_module(module)


def check_command(argv: list[str], where: str = "command") -> None:
    """Raise ``BadEntryPoint`` unless ``argv`` runs a real Mockingbird entry point."""
    if not argv:
        raise BadEntryPoint(f"{where}: empty command")
    program, *args = argv
    if program == "mockingbird":
        _check_mockingbird(args, where)
    elif program == "celery":
        _check_celery(args, where)
    else:
        raise BadEntryPoint(f"{where}: {program!r} is not a Mockingbird entry point (mockingbird or celery)")


# ── where the commands are written ───────────────────────────────────────────────────
def procfile_commands() -> Iterator[tuple[str, list[str]]]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            yield f"Procfile {name.strip()}", shlex.split(_expand(command))


def _argv(value: object) -> list[str]:
    if isinstance(value, str):
        return shlex.split(_expand(value))
    return [_expand(str(part)) for part in value]  # type: ignore[union-attr]


def compose_commands() -> Iterator[tuple[str, list[str]]]:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        image = str(service.get("image", ""))
        if "build" not in service and "mockingbird" not in image.split("/")[-1].split(":")[0].lower():
            continue  # PostgreSQL, Redis, TGI: not ours
        argv = _argv(service.get("entrypoint") or []) + _argv(service.get("command") or [])
        yield f"docker-compose {name}", argv


def k8s_commands() -> Iterator[tuple[str, list[str]]]:
    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or "spec" not in doc:
                continue
            spec = doc["spec"]
            pod = (
                spec.get("template", {}).get("spec")
                or spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
                or {}
            )
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                if not container["image"].split("/")[-1].startswith("mockingbird:"):
                    continue
                argv = [*container.get("command", []), *container.get("args", [])]
                yield f"{path.relative_to(ROOT)} {doc['metadata']['name']}/{container['name']}", argv


ALL = [*procfile_commands(), *compose_commands(), *k8s_commands()]


def test_the_files_name_every_process_type() -> None:
    """The deploy files run the Slack bot, the Discord bot, worker and beat (and we found them)."""
    for source in ("Procfile", "docker-compose", "deploy/k8s"):
        commands = [" ".join(argv) for where, argv in ALL if where.startswith(source)]
        joined = "\n".join(commands)
        for needle in (
            "mockingbird slack",
            "mockingbird discord",
            "celery -A tasks worker",
            "celery -A tasks beat",
        ):
            assert needle in joined, f"{source} runs no `{needle}`"
    assert any("flower" in argv for where, argv in ALL if where.startswith("docker-compose"))
    assert any(argv[:3] == ["mockingbird", "db", "upgrade"] for where, argv in ALL if "migrate" in where)


@pytest.mark.parametrize(("where", "argv"), ALL, ids=[where for where, _ in ALL])
def test_command_names_a_real_entry_point(where: str, argv: list[str]) -> None:
    check_command(argv, where)


@pytest.mark.parametrize(
    "argv",
    [
        ["mockingbird", "no-such-command"],
        ["mockingbird", "db", "sideways"],
        ["mockingbird", "db", "upgrade", "--no-such-flag"],
        ["mockingbird", "retention", "purge", "--days", "soon"],
        ["mockingbird", "db"],
        ["celery", "-A", "tasks", "no-such-subcommand"],
        ["celery", "-A", "tasks", "worker", "--no-such-flag"],
        ["celery", "-A", "tasks", "worker", "--include", "bot.ops.no_such_module"],
        ["celery", "worker"],
        ["gunicorn", "bot.app:app"],
    ],
)
def test_a_made_up_command_is_rejected(argv: list[str]) -> None:
    with pytest.raises((BadEntryPoint, ImportError)):
        check_command(argv, "made up")


def test_celery_dash_a_tasks_finds_the_app() -> None:
    from celery import Celery
    from celery.app.utils import find_app

    assert isinstance(find_app("tasks"), Celery)
