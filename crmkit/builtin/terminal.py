"""The terminal reminder channel: always on; prints each newly delivered reminder when
``reminders --send`` runs in a terminal (not with ``--json``)."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from ..plugins import PluginSpec

PLUGIN = PluginSpec(name="terminal", version="0.1.0",
                    description="Prints delivered reminders on the terminal (built in).")


def describe(r: Any) -> str:
    parts = [r.due_on.isoformat() if r.due_on else "", f"[{r.plugin}/{r.kind}]"]
    if r.owner:
        parts.append(f"@{r.owner}")
    parts.append(r.subject)
    if r.amount is not None:
        parts.append(f"{r.amount:.2f}")
    return " ".join(p for p in parts if p)


@hookimpl
def crm_deliver(ctx: Any, reminders: list[Any]) -> None:
    if ctx.echo is None:
        return
    for r in reminders:
        ctx.echo(describe(r))
