"""Bench ``campaign report`` against one hand-written SQL query on the same SQLite file.

100 campaigns with 1,000 costs, 200,000 leads of 150,000 customers, 50,000 targets and
1,000,000 invoices (5% void) with 20,000 credit notes and 100,000 orders, in one tenant
(``--quick``: 1/20 of the rows; ``--scale F`` any fraction; campaigns stay 100). The
report (through crmkit: unit of work, permission checks, SQLAlchemy Core, result
conversion) is timed against one raw ``sqlite3`` query written by hand that gives the
same figures; the figures are compared too.

    python bench/bench_marketing.py [--quick | --scale F]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sqlite3
import sys
import tempfile
from decimal import ROUND_HALF_UP, Decimal

sys.path.insert(0, os.path.dirname(__file__))
from _common import figure, peak_rss_mb, timed  # noqa: E402

TODAY = dt.date(2026, 11, 22)
DAY0 = dt.date(2025, 1, 1)
CHANNELS = ("exhibition", "online", "wechat", "email", "referral", "phone", "print", "other")


def build(path: str, scale: float, seed: int = 1) -> None:
    import crmkit

    crm = crmkit.open(f"sqlite:///{path}", today=TODAY)
    crm.init()
    crm.plugins.enable("marketing")
    crm.close()
    rng = random.Random(seed)
    n_cust, n_leads, n_targets = int(150_000 * scale), int(200_000 * scale), int(50_000 * scale)
    n_inv, n_cn, n_ord = int(1_000_000 * scale), int(20_000 * scale), int(100_000 * scale)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    stamp = "2025-01-01 10:00:00.000000"

    def day(lo: int = 0, hi: int = 690) -> str:
        return (DAY0 + dt.timedelta(days=rng.randint(lo, hi))).isoformat()

    db.executemany(
        "INSERT INTO crm_customers (id, tenant_id, name, kind, status, owner, created_at, "
        "updated_at) VALUES (?, 1, ?, 'company', ?, 'admin', ?, ?)",
        [(i, f"Customer {i}", rng.choice(("prospect", "active", "active", "lost")), stamp,
          stamp) for i in range(1, n_cust + 1)])
    db.executemany(
        "INSERT INTO crm_marketing_campaigns (id, tenant_id, name, channel, start_on, "
        "created_on, created_by, created_at) VALUES (?, 1, ?, ?, ?, '2025-01-01', 'admin', ?)",
        [(i, f"Campaign {i}", CHANNELS[i % len(CHANNELS)], day(0, 300), stamp)
         for i in range(1, 101)])
    db.executemany(
        "INSERT INTO crm_marketing_costs (tenant_id, campaign_id, amount, spent_on, "
        "created_at) VALUES (1, ?, ?, ?, ?)",
        [(rng.randint(1, 100), rng.randint(10_000, 5_000_000), day(), stamp)
         for _ in range(1000)])
    seen: set[tuple[int, int, str]] = set()
    leads = []
    while len(leads) < n_leads:
        row = (rng.randint(1, 100), rng.randint(1, n_cust), day())
        if row not in seen:
            seen.add(row)
            leads.append((*row, stamp))
    db.executemany("INSERT INTO crm_marketing_leads (tenant_id, campaign_id, customer_id, "
                   "lead_on, created_at) VALUES (1, ?, ?, ?, ?)", leads)
    pairs = {(rng.randint(1, 100), rng.randint(1, n_cust)) for _ in range(n_targets)}
    db.executemany("INSERT INTO crm_marketing_targets (tenant_id, campaign_id, customer_id, "
                   "target_on, created_at) VALUES (1, ?, ?, ?, ?)",
                   [(c, k, day(), stamp) for c, k in sorted(pairs)])
    docs = []
    did = 0

    def flush() -> None:
        db.executemany(
            "INSERT INTO crm_documents (id, tenant_id, customer_id, kind, number, status, "
            "amount, base_amount, currency, issued_on, applies_to, created_at) "
            "VALUES (?, 1, ?, ?, ?, ?, ?6, ?6, 'CNY', ?, ?, ?)", docs)
        docs.clear()

    invoices = []
    for _ in range(n_inv):
        did += 1
        cust, issued, amount = rng.randint(1, n_cust), day(), rng.randint(1_000, 2_000_000)
        status = "void" if rng.random() < 0.05 else "open"
        docs.append((did, cust, "invoice", f"I-{did}", status, amount, issued, None, stamp))
        if len(invoices) < n_cn * 3:
            invoices.append((did, cust, issued, amount))
        if len(docs) == 10_000:
            flush()
    for inv, cust, issued, amount in rng.sample(invoices, n_cn):
        did += 1
        docs.append((did, cust, "credit_note", f"CN-{did}", "open", rng.randint(1, amount),
                     max(issued, day()), f"I-{inv}", stamp))
    for _ in range(n_ord):
        did += 1
        docs.append((did, rng.randint(1, n_cust), "order", f"O-{did}", "open",
                     rng.randint(1_000, 2_000_000), day(), None, stamp))
        if len(docs) == 10_000:
            flush()
    flush()
    db.commit()
    db.execute("ANALYZE")
    db.close()


RAW = """
WITH first AS (
  SELECT customer_id, campaign_id, lead_on,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY lead_on, campaign_id) AS rn
  FROM crm_marketing_leads WHERE tenant_id = 1 AND lead_on <= :d),
src AS (SELECT customer_id, campaign_id, lead_on FROM first WHERE rn = 1),
leads AS (SELECT campaign_id, COUNT(DISTINCT customer_id) AS n FROM crm_marketing_leads
          WHERE tenant_id = 1 AND lead_on <= :d GROUP BY campaign_id),
cust AS (SELECT campaign_id, COUNT(*) AS n,
                SUM(EXISTS (SELECT 1 FROM crm_documents d WHERE d.tenant_id = 1
                      AND d.customer_id = src.customer_id
                      AND d.kind IN ('order', 'contract', 'invoice') AND d.status != 'void'
                      AND d.issued_on >= src.lead_on AND d.issued_on <= :d)) AS conv
         FROM src GROUP BY campaign_id),
spent AS (SELECT campaign_id, SUM(amount) AS c FROM crm_marketing_costs
          WHERE tenant_id = 1 AND spent_on <= :d GROUP BY campaign_id),
items AS (SELECT customer_id, issued_on, amount FROM crm_documents
          WHERE tenant_id = 1 AND kind = 'invoice' AND status != 'void' AND issued_on <= :d
          UNION ALL
          SELECT inv.customer_id, inv.issued_on, -cn.amount
          FROM crm_documents cn JOIN crm_documents inv ON inv.tenant_id = 1
               AND inv.kind = 'invoice' AND inv.number = cn.applies_to
          WHERE cn.tenant_id = 1 AND cn.kind = 'credit_note' AND cn.status != 'void'
            AND cn.issued_on <= :d AND inv.status != 'void' AND inv.issued_on <= :d),
rev AS (SELECT src.campaign_id, SUM(i.amount) AS r FROM src
        JOIN items i ON i.customer_id = src.customer_id AND i.issued_on >= src.lead_on
         AND i.issued_on < date(src.lead_on, '+' || :days || ' days')
        GROUP BY src.campaign_id),
tgt AS (SELECT t.campaign_id, COUNT(*) AS n,
               SUM(EXISTS (SELECT 1 FROM crm_documents d WHERE d.tenant_id = 1
                     AND d.customer_id = t.customer_id
                     AND d.kind IN ('order', 'contract', 'invoice') AND d.status != 'void'
                     AND d.issued_on > t.target_on AND d.issued_on <= :d)) AS back
        FROM crm_marketing_targets t WHERE t.tenant_id = 1 AND t.target_on <= :d
        GROUP BY t.campaign_id)
SELECT c.id, c.name, c.channel, spent.c, leads.n, cust.n, cust.conv, rev.r, tgt.n, tgt.back
FROM crm_marketing_campaigns c
LEFT JOIN spent ON spent.campaign_id = c.id LEFT JOIN leads ON leads.campaign_id = c.id
LEFT JOIN cust ON cust.campaign_id = c.id LEFT JOIN rev ON rev.campaign_id = c.id
LEFT JOIN tgt ON tgt.campaign_id = c.id
WHERE c.tenant_id = 1 ORDER BY c.id
"""


def _money(cents: int | None) -> Decimal:
    return (Decimal(int(cents or 0)) / 100).quantize(Decimal("0.01"))


def _ratio(num: Decimal | int, den: Decimal | int) -> float | None:
    if not den:
        return None
    return float((Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def raw_report(db: sqlite3.Connection, days: int = 365) -> list[dict]:
    out = []
    for cid, name, channel, c, leads, n, conv, r, t, back in db.execute(
            RAW, {"d": TODAY.isoformat(), "days": days}):
        cost, revenue = _money(c), _money(r)
        leads, conv, t, back = int(leads or 0), int(conv or 0), int(t or 0), int(back or 0)
        out.append({
            "campaign_id": cid, "name": name, "channel": channel, "cost": cost, "leads": leads,
            "customers": int(n or 0), "converted": conv, "revenue": revenue,
            "cost_per_lead": (cost / leads).quantize(Decimal("0.01"), ROUND_HALF_UP)
            if leads else None,
            "cost_per_customer": (cost / conv).quantize(Decimal("0.01"), ROUND_HALF_UP)
            if conv else None,
            "roi": _ratio(revenue - cost, cost), "opportunities": None, "won": None,
            "won_amount": None, "targets": t, "returned": back, "return_rate": _ratio(back, t)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1/20 of the rows")
    ap.add_argument("--scale", type=float, default=None, help="fraction of the full rows")
    ap.add_argument("--db", help="reuse (or build) this SQLite file")
    args = ap.parse_args(argv)
    scale = args.scale if args.scale is not None else (0.05 if args.quick else 1.0)
    import crmkit_marketing

    import crmkit

    tmp = None
    path = args.db
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = os.path.join(tmp.name, "bench.db")
    if not os.path.exists(path):
        build(path, scale)
    crm = crmkit.open(f"sqlite:///{path}", today=TODAY)
    ours = crmkit_marketing.report(crm)[0]
    db = sqlite3.connect(path)
    theirs = raw_report(db)
    assert ours == theirs, "the report and the hand-written query disagree"
    t_ours = timed(lambda: crmkit_marketing.report(crm), repeat=3)
    t_raw = timed(lambda: raw_report(db), repeat=3)
    figure("marketing campaign report vs one hand-written query", t_ours / t_raw,
           target="<= 2x", detail=f"{t_ours:.2f}s vs {t_raw:.2f}s, scale {scale:g}, "
           f"{sum(r['leads'] for r in ours)} campaign leads, "
           f"peak {peak_rss_mb():.0f} MB")
    db.close()
    crm.close()
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
