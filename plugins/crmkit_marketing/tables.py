"""The marketing plugin's tables: campaigns, their costs, leads and targets.

Every index leads with ``tenant_id``. A lead is "this customer came from (responded
to) this campaign on this day"; a target is "this campaign was aimed at this customer
from this day" (once per campaign and customer).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, Table, UniqueConstraint

from crmkit import Money, Str, UTCDateTime

NAME_MAX = 200
NOTE_MAX = 500
CHANNELS = ("exhibition", "online", "wechat", "email", "referral", "phone", "print",
            "other")


def define_tables(metadata: Any, prefix: str) -> None:
    """``{prefix}marketing_campaigns``, ``_costs``, ``_leads`` and ``_targets``."""
    p = prefix
    mysql: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB",
             "mariadb_charset": "utf8mb4", "mariadb_engine": "InnoDB"}
    Table(
        f"{p}marketing_campaigns", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("name", Str(NAME_MAX), nullable=False),
        Column("channel", Str(20), nullable=False),
        Column("start_on", Date),
        Column("end_on", Date),
        Column("budget", Money),
        Column("created_on", Date, nullable=False),  # the day it was added (ctx.today)
        Column("created_by", Str(100)),
        Column("created_at", UTCDateTime, nullable=False),
        UniqueConstraint("tenant_id", "name", name=f"{p}uq_marketing_campaign_name"),
        **mysql,
    )
    camp_fk = f"{p}marketing_campaigns.id"
    cust_fk = f"{p}customers.id"
    Table(
        f"{p}marketing_costs", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("campaign_id", Integer, ForeignKey(camp_fk), nullable=False),
        Column("amount", Money, nullable=False),
        Column("spent_on", Date, nullable=False),
        Column("note", Str(NOTE_MAX)),
        Column("created_by", Str(100)),
        Column("created_at", UTCDateTime, nullable=False),
        Index(f"{p}ix_marketing_costs_campaign", "tenant_id", "campaign_id", "spent_on"),
        **mysql,
    )
    Table(
        f"{p}marketing_leads", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("campaign_id", Integer, ForeignKey(camp_fk), nullable=False),
        Column("customer_id", Integer, ForeignKey(cust_fk), nullable=False),
        Column("lead_on", Date, nullable=False),
        Column("created_by", Str(100)),
        Column("created_at", UTCDateTime, nullable=False),
        # one lead per campaign, customer and day; also the campaign's lead count
        UniqueConstraint("tenant_id", "campaign_id", "customer_id", "lead_on",
                         name=f"{p}uq_marketing_lead"),
        # a customer's earliest lead (its source): customer, then date, then campaign
        Index(f"{p}ix_marketing_leads_customer", "tenant_id", "customer_id", "lead_on",
              "campaign_id"),
        **mysql,
    )
    Table(
        f"{p}marketing_targets", metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant_id", Integer, nullable=False),
        Column("campaign_id", Integer, ForeignKey(camp_fk), nullable=False),
        Column("customer_id", Integer, ForeignKey(cust_fk), nullable=False),
        Column("target_on", Date, nullable=False),
        Column("created_by", Str(100)),
        Column("created_at", UTCDateTime, nullable=False),
        UniqueConstraint("tenant_id", "campaign_id", "customer_id",
                         name=f"{p}uq_marketing_target"),
        Index(f"{p}ix_marketing_targets_customer", "tenant_id", "customer_id"),
        **mysql,
    )
