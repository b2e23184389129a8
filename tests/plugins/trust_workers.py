"""Process entry points for the concurrency and kill tests (spawned, so importable)."""

from __future__ import annotations

import datetime as dt
import traceback
from typing import Any

TODAY = dt.date(2026, 11, 22)


def add_customers(url: str, tag: str, n: int, mode: str, start: Any, out: Any) -> None:
    """Add ``n`` customers named ``{tag}-{i}``: one by one in transactions of 20
    (``mode="add"``) or through ``add_many`` in batches of 100 (``mode="add_many"``).
    Puts (tag, added, error text or None) on ``out``."""
    import crmkit

    added, error = 0, None
    try:
        crm = crmkit.open(url, today=TODAY)
        crm.customers.list(limit=1)
        start.wait(60)
        if mode == "add":
            for chunk in range(0, n, 20):
                with crm.unit():
                    for i in range(chunk, min(chunk + 20, n)):
                        crm.customers.add(name=f"{tag}-{i}", external_id=f"{tag}-{i}")
                        added += 1
        else:
            for chunk in range(0, n, 100):
                added += crm.customers.add_many(
                    {"name": f"{tag}-{i}", "external_id": f"{tag}-{i}"}
                    for i in range(chunk, min(chunk + 100, n)))
        crm.close()
    except BaseException:  # noqa: BLE001 - reported to the parent, which asserts
        error = traceback.format_exc()
    out.put((tag, added, error))


def send_reminders(url: str, tag: str, day: str, start: Any, out: Any) -> None:
    """Run ``reminders.send(day)`` once; puts (tag, delivered keys, error) on ``out``."""
    import crmkit

    keys: list[str] = []
    error = None
    try:
        crm = crmkit.open(url, today=TODAY)
        crm.reminders.due(dt.date.fromisoformat(day))  # warm up: both race on the send
        start.wait(60)
        delivered, _already = crm.reminders.send(dt.date.fromisoformat(day))
        keys = [r.key for r in delivered]
        crm.close()
    except BaseException:  # noqa: BLE001
        error = traceback.format_exc()
    out.put((tag, keys, error))


def big_add_many(url: str, n: int, ready: Any) -> None:
    """``add_many`` of ``n`` customers E{i} in one transaction; sets ``ready`` when the
    generator is halfway (the parent then kills this process)."""
    import crmkit

    crm = crmkit.open(url, today=TODAY)

    def records() -> Any:
        for i in range(n):
            if i == n // 2:
                ready.set()
            yield {"name": f"客户 {i}", "external_id": f"E{i}", "phone": f"+86 {i:08d}"}

    crm.customers.add_many(records(), batch_size=5000)
    crm.close()
