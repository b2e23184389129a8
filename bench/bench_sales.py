"""Bench the sales reports against hand-written SQL on the same SQLite file.

200,000 opportunities, 1,000,000 stage changes, 2,000,000 document lines (500,000
order/invoice/quote documents with 4 lines each, plus 50,000 expenses) and 300,000
activities in one tenant (``--quick``: 1/20 of each). Each report (through crmkit,
SQLAlchemy Core, result conversion) is timed against one raw ``sqlite3`` query written
by hand that produces the same figures; the figures are compared too.

    python bench/bench_sales.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sqlite3
import sys
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal

sys.path.insert(0, os.path.dirname(__file__))
from _common import figure, peak_rss_mb, timed  # noqa: E402

TODAY = dt.date(2026, 11, 22)
STAGES = [("lead", 10), ("qualified", 30), ("proposal", 60), ("negotiation", 80),
          ("won", 100), ("lost", 0)]
OPEN = ["lead", "qualified", "proposal", "negotiation"]
PROB_SQL = "CASE stage " + " ".join(f"WHEN '{n}' THEN {p}" for n, p in STAGES) + " ELSE 0 END"


def build(path: str, scale: float, seed: int = 1) -> None:
    import crmkit

    crm = crmkit.open(f"sqlite:///{path}", today=TODAY)
    crm.init()
    crm.plugins.enable("sales")
    owners = [f"rep{i:02d}" for i in range(20)]
    for o in owners:
        crm.users.add(o, role="sales")
    crm.close()
    rng = random.Random(seed)
    n_cust, n_opp = int(50_000 * scale), int(200_000 * scale)
    n_docs, n_exp, n_act = int(500_000 * scale), int(50_000 * scale), int(300_000 * scale)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    day0 = TODAY - dt.timedelta(days=400)

    def ts(d: dt.date) -> str:
        return f"{d.isoformat()} 10:00:00.000000"

    cust_owner = [rng.choice(owners) for _ in range(n_cust)]
    cust_day = [day0 + dt.timedelta(days=rng.randint(0, 390)) for _ in range(n_cust)]
    db.executemany(
        "INSERT INTO crm_customers (id, tenant_id, name, kind, status, owner, created_at, "
        "updated_at) VALUES (?, 1, ?, 'company', ?, ?, ?, ?)",
        [(i + 1, f"Customer {i + 1}", rng.choice(["prospect", "prospect", "active"]),
          cust_owner[i], ts(cust_day[i]), ts(cust_day[i])) for i in range(n_cust)])
    opps, changes = [], []
    cid = 0

    def flush_opps() -> None:
        db.executemany(
            "INSERT INTO crm_sales_opportunities (id, tenant_id, customer_id, title, amount, "
            "stage, expected_close, owner, created_on, closed_on, created_at, updated_at) "
            "VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [(*o, o[-1]) for o in opps])
        db.executemany(
            "INSERT INTO crm_sales_stage_changes (id, tenant_id, opportunity_id, from_stage, "
            "to_stage, changed_on, changed_by) VALUES (?, 1, ?, ?, ?, ?, 'admin')", changes)
        opps.clear()
        changes.clear()

    for oid in range(1, n_opp + 1):
        if len(opps) == 10_000:
            flush_opps()
        c = rng.randrange(n_cust)
        created = cust_day[c] + dt.timedelta(days=rng.randint(0, 30))
        day, stage, closed = created, "lead", None
        changes.append((cid := cid + 1, oid, None, "lead", day.isoformat()))
        for step in range(4):
            day = day + dt.timedelta(days=rng.randint(1, 15))
            r = rng.random()
            if step == 3 and r < 0.25:
                new = "won"
            elif step == 3 and r < 0.40:
                new = "lost"
            else:
                i = OPEN.index(stage)
                j = min(3, i + 1) if r < 0.7 or i == 0 else i - 1
                new = OPEN[j] if OPEN[j] != stage else OPEN[i - 1]
            changes.append((cid := cid + 1, oid, stage, new, day.isoformat()))
            stage = new
        if stage in ("won", "lost"):
            closed = day.isoformat()
        opps.append((oid, c + 1, f"Deal {oid}", rng.randint(1_000, 5_000_000), stage,
                     (created + dt.timedelta(days=rng.randint(10, 200))).isoformat(),
                     cust_owner[c], created.isoformat(), closed, ts(created)))
    flush_opps()
    products = [(f"Product {i:03d}", rng.randint(500, 500_000)) for i in range(200)]
    docs, lines = [], []
    lid = 0

    def flush_docs() -> None:
        db.executemany(
            "INSERT INTO crm_documents (id, tenant_id, customer_id, kind, number, status, amount, "
            "base_amount, currency, issued_on, created_at) "
            "VALUES (?, 1, ?, ?, ?, ?, ?6, ?6, 'CNY', ?, ?)", docs)
        db.executemany(
            "INSERT INTO crm_document_lines (id, tenant_id, document_id, position, product, "
            "quantity, unit_price) VALUES (?, 1, ?, ?, ?, ?, ?)", lines)
        docs.clear()
        lines.clear()

    for did in range(1, n_docs + 1):
        if len(docs) == 10_000:
            flush_docs()
        kind = rng.choice(["order", "order", "invoice", "invoice", "quote"])
        status = "void" if rng.random() < 0.05 else "open"
        issued = day0 + dt.timedelta(days=rng.randint(0, 400))
        total = 0
        for pos in range(1, 5):
            p, base = rng.choice(products)
            qty = rng.randint(1, 20) * 1000 if rng.random() < 0.9 else rng.randint(1, 9999)
            price = base + rng.randint(-base // 5, base // 5)
            lines.append((lid := lid + 1, did, pos, p, qty, price))
            total += qty * price // 1000
        docs.append((did, rng.randint(1, n_cust), kind, f"{kind}-{did}", status, total,
                     issued.isoformat(), ts(issued)))
    for k in range(n_exp):
        issued = day0 + dt.timedelta(days=rng.randint(0, 400))
        docs.append((n_docs + k + 1, rng.randint(1, n_cust), "expense", f"E-{k}", "open",
                     rng.randint(1_000, 200_000), issued.isoformat(), ts(issued)))
    flush_docs()
    kinds = ["call", "visit", "email", "meeting", "note", "task"]
    db.executemany(
        "INSERT INTO crm_activities (tenant_id, customer_id, kind, subject, owner, "
        "occurred_at) VALUES (1, ?, ?, 's', ?, ?)",
        ((c + 1, rng.choice(kinds), cust_owner[c],
          ts(day0 + dt.timedelta(days=rng.randint(0, 400))))
         for c in (rng.randrange(n_cust) for _ in range(n_act))))
    db.commit()
    db.execute("ANALYZE")
    db.close()


def cents(x: int, scale: int = 1) -> Decimal:
    return (Decimal(int(x or 0)) / (100 * scale)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def raw_forecast(db: sqlite3.Connection) -> list:
    rows = db.execute(f"""
        SELECT CASE WHEN closed_on IS NULL THEN strftime('%Y-%m', expected_close)
                    ELSE strftime('%Y-%m', closed_on) END AS p,
               SUM(closed_on IS NULL),
               SUM(CASE WHEN closed_on IS NULL THEN amount ELSE 0 END),
               SUM(CASE WHEN closed_on IS NULL THEN amount * {PROB_SQL} ELSE 0 END),
               SUM(CASE WHEN stage = 'won' THEN amount ELSE 0 END)
        FROM crm_sales_opportunities
        WHERE tenant_id = 1 AND (closed_on IS NULL OR stage = 'won')
        GROUP BY p ORDER BY p""").fetchall()
    return [(p, n, cents(b), cents(w, 100), cents(won)) for p, n, b, w, won in rows]


def raw_prospects(db: sqlite3.Connection) -> list:
    hi = (TODAY + dt.timedelta(days=30)).isoformat()
    return db.execute(f"""
        WITH r AS (
          SELECT customer_id, id, expected_close, {PROB_SQL} AS prob,
                 CASE WHEN expected_close BETWEEN '{TODAY}' AND '{hi}'
                       AND stage IN ('proposal', 'negotiation') THEN 0 ELSE 1 END AS q,
                 ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY
                   CASE WHEN expected_close BETWEEN '{TODAY}' AND '{hi}'
                         AND stage IN ('proposal', 'negotiation') THEN 0 ELSE 1 END,
                   expected_close, id) AS rn
          FROM crm_sales_opportunities WHERE tenant_id = 1 AND closed_on IS NULL)
        SELECT CASE WHEN r.q = 0 THEN 'A' ELSE 'B' END AS cls, c.id AS cid, r.id,
               r.expected_close AS ec, r.prob
        FROM r JOIN crm_customers c ON c.id = r.customer_id
        WHERE r.rn = 1 AND c.tenant_id = 1 AND c.status != 'archived'
        UNION ALL
        SELECT 'C', c.id, NULL, NULL, NULL FROM crm_customers c
        WHERE c.tenant_id = 1 AND c.status = 'prospect' AND NOT EXISTS (
          SELECT 1 FROM crm_sales_opportunities o WHERE o.tenant_id = 1
            AND o.customer_id = c.id AND o.closed_on IS NULL)
        ORDER BY cls, ec, cid""").fetchall()


def raw_funnel(db: sqlite3.Connection, frm: str, to: str) -> list:
    rank = "CASE {c} " + " ".join(f"WHEN '{n}' THEN {i}" for i, n in
                                  enumerate([*OPEN, "won"])) + " ELSE -1 END"
    return db.execute(f"""
        SELECT 'now', stage, COUNT(*), SUM(amount), NULL FROM crm_sales_opportunities
        WHERE tenant_id = 1 GROUP BY stage
        UNION ALL
        SELECT 'conv', e.stage, COUNT(*),
          SUM(EXISTS (SELECT 1 FROM crm_sales_stage_changes l WHERE l.tenant_id = 1
                AND l.opportunity_id = e.opportunity_id AND l.id > e.first_id
                AND l.changed_on <= '{to}'
                AND {rank.format(c='l.to_stage')} > {rank.format(c='e.stage')})),
          SUM(EXISTS (SELECT 1 FROM crm_sales_stage_changes l WHERE l.tenant_id = 1
                AND l.opportunity_id = e.opportunity_id AND l.id > e.first_id
                AND l.changed_on <= '{to}' AND l.to_stage = 'lost')
              AND NOT EXISTS (SELECT 1 FROM crm_sales_stage_changes l WHERE l.tenant_id = 1
                AND l.opportunity_id = e.opportunity_id AND l.id > e.first_id
                AND l.changed_on <= '{to}'
                AND {rank.format(c='l.to_stage')} > {rank.format(c='e.stage')}))
        FROM (SELECT opportunity_id, to_stage AS stage, MIN(id) AS first_id
              FROM crm_sales_stage_changes WHERE tenant_id = 1
                AND changed_on BETWEEN '{frm}' AND '{to}'
                AND to_stage IN ('lead', 'qualified', 'proposal', 'negotiation')
              GROUP BY opportunity_id, to_stage) e
        GROUP BY e.stage""").fetchall()


def raw_team(db: sqlite3.Connection, frm: str, to: str) -> list:
    nxt = (dt.date.fromisoformat(to) + dt.timedelta(days=1)).isoformat()
    return db.execute(f"""
        SELECT 'act', owner, kind, COUNT(*), NULL FROM crm_activities
          WHERE tenant_id = 1 AND occurred_at >= '{frm}' AND occurred_at < '{nxt}'
          GROUP BY owner, kind
        UNION ALL SELECT 'new', owner, NULL, COUNT(*), NULL FROM crm_customers
          WHERE tenant_id = 1 AND created_at >= '{frm}' AND created_at < '{nxt}' GROUP BY owner
        UNION ALL SELECT 'opp', owner, SUM(stage = 'won'), SUM(stage = 'lost'),
          SUM(CASE WHEN stage = 'won' THEN amount ELSE 0 END) FROM crm_sales_opportunities
          WHERE tenant_id = 1 AND closed_on BETWEEN '{frm}' AND '{to}' GROUP BY owner
        UNION ALL SELECT 'first', c.owner, NULL,
          SUM(CAST(julianday(f.fw) - julianday(date(c.created_at)) AS INTEGER)), COUNT(*)
          FROM (SELECT customer_id, MIN(closed_on) AS fw FROM crm_sales_opportunities
                WHERE tenant_id = 1 AND stage = 'won' AND closed_on IS NOT NULL
                GROUP BY customer_id) f JOIN crm_customers c ON c.id = f.customer_id
          WHERE c.tenant_id = 1 AND f.fw BETWEEN '{frm}' AND '{to}' GROUP BY c.owner
        UNION ALL SELECT 'exp', c.owner, NULL, SUM(d.amount), NULL
          FROM crm_documents d JOIN crm_customers c ON c.id = d.customer_id
          WHERE d.tenant_id = 1 AND c.tenant_id = 1 AND d.kind = 'expense'
            AND d.status != 'void' AND d.issued_on BETWEEN '{frm}' AND '{to}'
          GROUP BY c.owner""").fetchall()


def raw_products(db: sqlite3.Connection, frm: str, to: str) -> list:
    rows = db.execute(f"""
        SELECT l.product, SUM(l.quantity), SUM(l.quantity * l.unit_price),
               COUNT(DISTINCT d.customer_id), MIN(l.unit_price), MAX(l.unit_price)
        FROM crm_document_lines l JOIN crm_documents d ON d.id = l.document_id
        WHERE l.tenant_id = 1 AND d.tenant_id = 1 AND d.kind IN ('order', 'invoice')
          AND d.status != 'void' AND d.issued_on BETWEEN '{frm}' AND '{to}'
        GROUP BY l.product ORDER BY SUM(l.quantity * l.unit_price) DESC, l.product""").fetchall()
    return [(p, cents(r, 1000), n, cents(lo), cents(hi)) for p, _q, r, n, lo, hi in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1/20 of the data")
    args = ap.parse_args()
    scale = 0.05 if args.quick else 1.0
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "plugins"))
    from crmkit_sales import reports

    import crmkit

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sales.db")
        t0 = time.perf_counter()
        build(path, scale)
        print(f"built in {time.perf_counter() - t0:.1f}s (scale {scale})", flush=True)
        crm = crmkit.open(f"sqlite:///{path}", today=TODAY)
        db = sqlite3.connect(path)
        frm, to = dt.date(2026, 1, 1), TODAY
        fs, ts_ = frm.isoformat(), to.isoformat()

        # the figures must agree before the times mean anything
        mine = [(r["period"], r["count"], r["best_case"], r["weighted"], r["won"])
                for r in reports.forecast(crm)]
        assert mine == raw_forecast(db), "forecast differs from the raw query"
        mine_p = [(r["class"], r["customer_id"], r["opportunity_id"],
                   r["expected_close"] and r["expected_close"].isoformat(), r["probability"])
                  for r in reports.prospects(crm)]
        assert mine_p == [tuple(x) for x in raw_prospects(db)], "prospects differ"
        f = reports.funnel(crm, frm, to)
        raw_f = {(k, s): (n, a, x) for k, s, n, a, x in raw_funnel(db, fs, ts_)}
        for x in f["conversions"]:
            if x["entered"]:
                assert raw_f[("conv", x["stage"])][:3] == (x["entered"], x["advanced"],
                                                           x["lost"]), x
        pm = [(r["product"], r["revenue"], r["customers"], r["min_price"], r["max_price"])
              for r in reports.products(crm, frm, to)]
        assert pm == raw_products(db, fs, ts_), "products differ"
        team = reports.team(crm, frm, to)
        raw_t = raw_team(db, fs, ts_)
        won = {o: int(w) for k, o, w, _l, _a in raw_t if k == "opp"}
        assert {r["owner"]: r["won"] for r in team if r["won"]} == {
            o: w for o, w in won.items() if w}, "team differs"
        print("figures agree with the hand-written SQL", flush=True)

        cases = [
            ("forecast_month", lambda: reports.forecast(crm), lambda: raw_forecast(db)),
            ("prospects", lambda: reports.prospects(crm), lambda: raw_prospects(db)),
            ("funnel", lambda: reports.funnel(crm, frm, to), lambda: raw_funnel(db, fs, ts_)),
            ("team", lambda: reports.team(crm, frm, to), lambda: raw_team(db, fs, ts_)),
            ("products", lambda: reports.products(crm, frm, to),
             lambda: raw_products(db, fs, ts_)),
        ]
        for name, ours, raw in cases:
            t_raw = timed(raw)
            t_ours = timed(ours)
            figure(f"sales_{name}_vs_raw_sql", t_ours / t_raw, target="<= 2x",
                   detail=f"crmkit {t_ours:.3f}s, raw {t_raw:.3f}s")
        t = timed(lambda: crm.reminders.due(TODAY), repeat=1)
        figure("sales_reminders_seconds", t, unit="s",
               detail="all plugins' reminders for one day, admin")
        figure("sales_peak_rss", peak_rss_mb(), unit=" MB")
        db.close()
        crm.close()


if __name__ == "__main__":
    main()
