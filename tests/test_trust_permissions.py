"""Permissions: a ``sales`` user (li) against another salesperson's (wang's) customers.

Every list, show, report, export and reminder under li returns nothing of wang's;
showing one of wang's records is "permission denied"; changing one (update, archive,
adding contacts, activities, documents, upsert, reassign) is refused and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import strategies as st

from crmkit.errors import PermissionDenied, ValidationError
from tests.plugins.trust import counts, rule_property
from tests.test_trust_isolation import Ids, _enable, _walk, customer, populate

TODAY = dt.date(2026, 11, 22)


def _denied(fn: Any, *args: Any, **kw: Any) -> None:
    with pytest.raises(PermissionDenied, match="permission denied: user 'li'"):
        fn(*args, **kw)


def check_li(crm: Any, li: Any, mine: Ids, theirs: Ids) -> None:
    """Everything li may call; nothing of wang's comes back or changes."""
    assert {c.id for c in li.customers.list()} == mine.customers
    assert li.customers.list(owner="wang") == []
    for name in theirs.names:
        assert not {c.id for c in li.customers.list(search=name)} & theirs.customers
    for tag in ("vip", "汽车", "b"):
        assert not {c.id for c in li.customers.list(tag=tag)} & theirs.customers
    assert {x.id for x in li.contacts.list()} == mine.contacts
    assert {x.id for x in li.activities.list()} == mine.activities
    assert {x.id for x in li.documents.list()} == mine.documents
    assert {r.customer_id for r in li.reminders.due()} <= mine.customers
    before = counts(crm)
    for cid in theirs.customers:
        for fn in (li.customers.get, li.customers.view, li.customers.history,
                   li.customers.sections, li.customers.archive):
            _denied(fn, cid)
        _denied(li.customers.update, cid, name="hijacked")
        _denied(li.customers.update, cid, owner="li")
        _denied(li.contacts.add, cid, "intruder")
        _denied(li.activities.add, cid, kind="note", subject="intruder")
        _denied(li.documents.add, cid, kind="quote", number="X-LI", amount="1")
        assert li.contacts.list(customer_id=cid) == []
        assert li.activities.list(customer_id=cid) == []
        assert li.documents.list(customer_id=cid) == []
        with pytest.raises(ValidationError, match="not found"):
            li.activities.add_many([{"customer_id": cid, "kind": "note", "subject": "x"}])
    wang_customers = [c for c in crm.customers.list() if c.id in theirs.customers]
    for ext in [c.external_id for c in wang_customers if c.external_id]:
        _denied(li.customers.find, external_id=ext)
        _denied(li.customers.upsert, ext, name="taken over")
    for aid in theirs.activities:
        _denied(li.activities.get, aid)
        _denied(li.activities.done, aid)
        _denied(li.activities.update, aid, subject="x")
    for did in theirs.documents:
        _denied(li.documents.get, did)
        _denied(li.documents.update, did, status="void")
    for d in crm.documents.list():
        if d.customer_id in theirs.customers:
            _denied(li.documents.by_number, d.kind, d.number)
    for x in crm.contacts.list():
        if x.id in theirs.contacts:
            _denied(li.contacts.update, x.id, name="x")
    with pytest.raises((PermissionDenied, ValidationError)):
        li.customers.add(name="for wang", owner="wang")
    with pytest.raises((PermissionDenied, ValidationError)):
        li.customers.add_many([{"name": "for wang", "owner": "wang"}])
    if theirs.customers:
        _denied(li.customers.reassign, "wang", "li")
    # her own customers too: owner changes and reassigning are managers' actions
    for cid in mine.customers:
        _denied(li.customers.update, cid, owner="wang")
    _denied(li.customers.reassign, "li", "wang")
    assert counts(crm) == before
    changes = li.changes()
    assert not {ch["id"] for ch in changes if ch["table"] == "customer"} & theirs.customers
    assert not [ch for ch in changes if (ch["after"] or {}).get("customer_id")
                in theirs.customers]
    delivered, _already = li.reminders.send()
    assert {r.customer_id for r in delivered} <= mine.customers
    assert all(r.owner == "li" or r.customer_id in mine.customers for r in delivered)


def _owned(spec: dict, owner: str) -> dict:
    return {**spec, "owner": owner}


_TENANTS = itertools.count(1)


@rule_property(d=st.tuples(st.lists(customer, min_size=1, max_size=2),
                           st.lists(customer, min_size=1, max_size=2)))
def _permissions(root: Any, d: tuple[list, list]) -> None:
    # a fresh tenant per example: an example's cost does not grow with the ones before
    slug = f"p{next(_TENANTS)}"
    root.tenants.add(slug, name=slug)
    crm = root.using(tenant=slug)
    crm.users.add("li")
    crm.users.add("wang")
    li = crm.using(user="li")
    mine, theirs = Ids(), Ids()
    # shared external-id and number pools: use one set so that adds never collide
    theirs.exts = mine.exts
    theirs.numbers = mine.numbers
    populate(crm, [_owned(s, "li") for s in d[0]], mine, "li")
    populate(crm, [_owned(s, "wang") for s in d[1]], theirs, "wang")
    check_li(crm, li, mine, theirs)
    # a manager sees both
    crm.users.add("boss", role="manager")
    assert {c.id for c in crm.using(user="boss").customers.list()} == (
        mine.customers | theirs.customers)


def test_sales_user_sees_and_changes_only_own_customers(crm):
    _permissions(crm)


def _marked(crm: Any) -> tuple[Ids, Ids]:
    crm.users.add("li")
    crm.users.add("wang")
    mine, theirs = Ids(), Ids()
    populate(crm, [{"name": "Acme", "external_id": "E1", "owner": "li", "tags": ["vip"],
                    "contacts": ["Ann"], "tasks": [0, -1], "docs": [("invoice", 1, 100)]}],
             mine, "li")
    populate(crm, [{"name": "王的客户", "external_id": "E2", "owner": "wang",
                    "tags": ["vip"], "contacts": ["王的联系人"], "tasks": [0, -2],
                    "docs": [("invoice", 2, 999), ("quote", 3, 5)]}], theirs, "王的客户")
    return mine, theirs


def leaks(text: str, theirs: Ids) -> list[Any]:
    # wang's only invoice is 999.00, li's 100.00
    found: list[Any] = [m for m in ("王的", "999.00") if m in text]
    try:
        import json

        doc = json.loads(text)
    except ValueError:
        return found
    return found + [i for i in _walk(doc) if isinstance(i, tuple)
                    and i[0] in ("customer_id", "customer") and i[1] in theirs.customers]


def test_sales_user_cli_shows_and_changes_nothing_of_another(crm, cli):
    mine, theirs = _marked(crm)
    wid = min(theirs.customers)
    for args in [("customer", "list"), ("customer", "list", "--owner", "wang"),
                 ("customer", "show", str(min(mine.customers))), ("contact", "list"),
                 ("activity", "list"), ("doc", "list"), ("reminders",), ("changes",),
                 ("audit", str(min(mine.customers))), ("reminders", "--send")]:
        r = cli(*args, "--json", user="li")
        assert r.exit_code == 0, (args, r)
        assert not leaks(r.stdout, theirs), (args, leaks(r.stdout, theirs))
        if args in (("customer", "list"), ("doc", "list"), ("reminders",)):
            assert leaks(cli(*args, "--json", user="wang").stdout, theirs), args
    before = counts(crm)
    for args in [("customer", "show", str(wid)), ("audit", str(wid)),
                 ("doc", "show", str(min(theirs.documents))),
                 ("activity", "done", str(min(theirs.activities))),
                 ("customer", "update", str(wid), "--name", "x"),
                 ("customer", "archive", str(wid)), ("contact", "add", str(wid), "x"),
                 ("activity", "add", str(wid), "--kind", "note", "--subject", "x"),
                 ("doc", "add", str(wid), "--kind", "quote", "--number", "Z", "--amount", "1"),
                 ("customer", "reassign", "--from", "wang", "--to", "li")]:
        r = cli(*args, "--json", user="li")
        assert r.exit_code == 1, (args, r)
        assert r.stderr.startswith("Error: permission denied"), (args, r)
        assert r.stdout == ""
    assert counts(crm) == before


PLUGIN_COMMANDS = [("receivables", "aging"), ("receivables", "aging", "--by", "owner"),
                   ("receivables", "open"), ("grading", "show"), ("sales", "list"),
                   ("sales", "forecast"), ("sales", "forecast", "--by", "owner"),
                   ("sales", "prospects")]


def test_sales_user_plugin_reports_and_exports_show_nothing_of_another(crm, cli, tmp_path):
    enabled = [n for n in ("receivables", "grading", "sales", "csv") if _enable(crm, n)]
    mine, theirs = _marked(crm)
    if "grading" in enabled:
        assert cli("grading", "run", "--json").exit_code == 0
    if "sales" in enabled:
        for user, cid in (("li", min(mine.customers)), ("wang", min(theirs.customers))):
            r = cli("sales", "add", str(cid), "--title", f"{user} deal" if user == "li"
                    else "王的 deal", "--amount", "1000", "--close", "2026-12-10", user=user)
            assert r.exit_code == 0, r
    ran = 0
    before = counts(crm)
    for args in PLUGIN_COMMANDS:
        if args[0] not in enabled:
            continue
        r = cli(*args, "--json", user="li")
        assert r.exit_code == 0, (args, r)  # a usage error (2) fails too
        assert not leaks(r.stdout, theirs), (args, leaks(r.stdout, theirs))
        ran += 1
    if "csv" in enabled:
        for kind in ("customers", "contacts", "activities", "documents"):
            out = tmp_path / f"{kind}.json"
            r = cli("export", kind, str(out), user="li")
            assert r.exit_code == 0, r
            assert not leaks(out.read_text(encoding="utf-8"), theirs), kind
            ran += 1
    assert ran == len(PLUGIN_COMMANDS) + 4
    assert counts(crm) == before


def test_reassign_and_owner_change_need_a_manager(crm, cli):
    """li (sales) owns 2 customers; --from li --to wang, --from zhao (who owns nothing
    but has a task on wang's customer) --to li and --owner wang are all refused, in the
    API and the CLI; the manager boss does them."""
    for name in ("li", "wang", "zhao"):
        crm.users.add(name)
    crm.users.add("boss", role="manager")
    a = crm.customers.add(name="A", owner="li")
    b = crm.customers.add(name="B", owner="li")
    w = crm.customers.add(name="W", owner="wang")
    task = crm.activities.add(w.id, kind="task", subject="ring", owner="zhao",
                              due_on="2026-11-30")
    before = counts(crm)
    li = crm.using(user="li")
    _denied(li.customers.reassign, "li", "wang")
    _denied(li.customers.reassign, "zhao", "li")
    _denied(li.customers.update, a.id, owner="wang")
    for args in (("customer", "reassign", "--from", "li", "--to", "wang"),
                 ("customer", "reassign", "--from", "zhao", "--to", "li"),
                 ("customer", "update", str(b.id), "--owner", "wang")):
        r = cli(*args, user="li")
        assert r.exit_code == 1 and "permission denied: user 'li'" in r.stderr, args
    assert counts(crm) == before
    assert crm.activities.get(task.id).owner == "zhao"
    boss = crm.using(user="boss")
    # 2 customers (A, B) and no open task of li's move to wang
    assert boss.customers.reassign("li", "wang") == {"customers": 2, "tasks": 0}
    assert {c.owner for c in crm.customers.list()} == {"wang"}
