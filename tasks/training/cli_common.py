"""What ``mockingbird retrain`` and ``mockingbird models`` share: a share as a percentage, a version as
JSON, the registration summary. The error line and the database are every command's (``bot.commands``).

No training stack here: ``models list`` must work on a bot install without torch.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from bot.commands import err


def pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def version_json(view: Any) -> dict[str, Any]:
    return {
        "name": view.name,
        "backend": view.backend,
        "status": view.status,
        "base_model": view.base_model,
        "artifact": view.artifact,
        "serving_id": view.serving_id,
        "traffic_share": view.traffic_share,
        "gate_passed": view.gate_passed,
        "metrics": view.metrics,
        "data_snapshot": {k: v for k, v in view.data_snapshot.items() if k != "exemplar_set"},
        "created_at": view.created_at.isoformat(),
        "promoted_at": view.promoted_at.isoformat() if view.promoted_at else None,
        "retired_at": view.retired_at.isoformat() if view.retired_at else None,
    }


def summary(view: Any) -> None:
    """The registration line and the gate's checks as stored (thresholds and the incumbent)."""
    gate = view.metrics.get("gate", {})
    err.print(
        f"Registered [bold]{view.name}[/] ({view.backend}) as a candidate: serving id "
        f"[bold]{view.serving_id}[/], artifact {view.artifact}."
    )
    for check in gate.get("checks", []):
        mark = "[green]pass[/]" if check["passed"] else "[red]fail[/]"
        err.print(f"  {mark} {check['name']}: {escape(check['note'])}")
    if gate.get("passed"):
        err.print(f"The gate passed. Give it traffic: mockingbird models traffic {view.name} 0.1")
    else:
        err.print("The gate did not pass; this version takes no traffic and cannot be promoted.")
