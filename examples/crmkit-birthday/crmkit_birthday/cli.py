"""``crmkit birthday set CONTACT_ID DATE`` and ``crmkit birthday list``."""

from __future__ import annotations

from typing import Any

import click

from crmkit.output import json_option, parse_date, pass_crm, print_json, table

from .service import list_birthdays, set_birthday


@click.group("birthday")
def birthday() -> None:
    """Birthdays of your customers' contacts, and greetings reminders."""


@birthday.command("set")
@click.argument("contact_id", type=int)
@click.argument("date", metavar="DATE")
@json_option
@pass_crm
def set_cmd(crm: Any, contact_id: int, date: str, as_json: bool) -> None:
    """Record a contact's birthday: DATE is YYYY-MM-DD, or MM-DD when the year is unknown."""
    row = set_birthday(crm, contact_id, date)
    if as_json:
        return print_json(row)
    click.echo(f"birthday of {row['contact']} (contact {contact_id}) set to {date}")


@birthday.command("list")
@click.option("--on", "on", metavar="DATE", help="Count from this day [default: today].")
@json_option
@pass_crm
def list_cmd(crm: Any, on: str | None, as_json: bool) -> None:
    """Every recorded birthday, the next one first."""
    rows = list_birthdays(crm, on=parse_date(on, "--on"))
    if as_json:
        return print_json(rows)
    table([(r["next"], r["in_days"], r["contact"], r["customer"], r["owner"], r["turns"])
           for r in rows], ["next", "in days", "contact", "customer", "owner", "turns"],
          empty="No birthdays recorded; add one with `crmkit birthday set CONTACT_ID DATE`.")
