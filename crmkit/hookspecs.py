"""The hooks crmkit calls. Plugins implement them with ``@crmkit.hookimpl``.

All hooks take keyword arguments; an implementation names only the arguments it
needs, so a hook can gain arguments without breaking plugins. ``ctx`` is the
operation's :class:`crmkit.Context`: ``ctx.crm``, ``ctx.tenant``, ``ctx.user``,
``ctx.today``, ``ctx.conn`` (the open transaction) and ``ctx.emit(event, payload)``.

Lifecycle and query hooks reach only the plugins enabled for ``ctx.tenant``;
extension hooks reach every installed plugin. Within one hook a plugin's
requirements are called before it (``tryfirst``/``trylast`` aside).
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("crmkit")
hookimpl = pluggy.HookimplMarker("crmkit")


# --- lifecycle: customers -------------------------------------------------------------


@hookspec
def crm_customer_validate(ctx: Any, customer: Any, changes: dict, before: Any
                          ) -> list[str] | None:
    """Check a customer before it is inserted or updated.

    Fires for ``customers.add``, ``update``, ``upsert``, ``add_many``, ``update_many``
    (once per record) and imports, inside the transaction, before anything is written.
    ``customer`` is the record as it will be (``id`` is None for a new one), ``changes``
    the fields being set, ``before`` the stored record (None for a new one). Return a
    list of error strings (empty or None when all is well): every plugin's errors are
    collected and any error aborts the change with a ValidationError naming each. Must
    not write. For new customers, a plugin that implements the batch form
    ``crm_customers_validate`` is called with that instead.

    Since 0.1.
    """


@hookspec
def crm_customer_created(ctx: Any, customer: Any) -> None:
    """A customer was inserted; same transaction, after the insert and its audit row
    (so what the hook changes is audited after the insert, since 0.3).

    May write through ``ctx.crm`` or ``ctx.conn`` and emit outbox events with
    ``ctx.emit``; raising rolls the whole change back. Returns nothing. A plugin that
    implements the batch form ``crm_customers_created`` is called with that instead.

    Since 0.1.
    """


@hookspec
def crm_customers_validate(ctx: Any, customers: list, changes: list
                           ) -> list[tuple[int, str]] | None:
    """Check new customers in one call before they are inserted: the batch form of
    ``crm_customer_validate`` for inserts.

    Fires for ``customers.add`` (a list of one), ``add_many`` and imports (once per
    batch of up to ``batch_size`` records, 5,000 by default) and ``upsert`` when it
    inserts, inside the transaction, before anything is written, with the records that
    passed the core's own checks. ``customers`` are the records as they will be (``id``
    is None), ``changes`` the fields given for each, in the same order. Return a list of
    ``(position, message)`` pairs, ``position`` being the index in ``customers`` (from
    0) of the record refused (empty or None when all is well); the core names the
    record's position in the caller's input. Any error aborts the whole change: nothing
    is written. Must not write.

    A plugin that implements this hook is not called with ``crm_customer_validate``
    for new customers (it still is for updates); a plugin that implements only
    ``crm_customer_validate`` is called once per record as before.

    Since 0.3.
    """


@hookspec
def crm_customers_created(ctx: Any, customers: list) -> None:
    """New customers were inserted: the batch form of ``crm_customer_created``; same
    transaction, after the insert and their audit rows (so what the hook changes is
    audited after the inserts).

    Fires once per ``customers.add`` (a list of one) and once per batch of ``add_many``
    and imports, with the stored records (ids assigned) in insertion order. May write
    through ``ctx.crm`` or ``ctx.conn`` and emit outbox events (``ctx.emit_many`` writes
    many in one statement); raising rolls the whole change back. Returns nothing.

    A plugin that implements this hook is not called with ``crm_customer_created``;
    one that implements only ``crm_customer_created`` is called once per record.

    Since 0.3.
    """


@hookspec
def crm_customer_updated(ctx: Any, customer: Any, before: Any, changes: dict) -> None:
    """A customer was updated; same transaction, after the update and its audit row
    (so what the hook changes is audited after it, since 0.3).

    ``customer`` is the new record, ``before`` the old one, ``changes`` maps each
    changed field to its new value. Raising rolls the change back. Returns nothing.

    Since 0.1.
    """


@hookspec
def crm_customer_archived(ctx: Any, customer: Any) -> None:
    """A customer was archived (status ``archived``); same transaction.

    Fires instead of ``crm_customer_updated`` for ``customers.archive``. Raising rolls
    the change back. Returns nothing.

    Since 0.1.
    """


# --- lifecycle: activities ------------------------------------------------------------


@hookspec
def crm_activity_validate(ctx: Any, activity: Any, changes: dict, before: Any
                          ) -> list[str] | None:
    """Check an activity before it is logged or updated; same contract as
    ``crm_customer_validate``: return error strings, any error aborts, must not write.

    Since 0.1.
    """


@hookspec
def crm_activity_logged(ctx: Any, activity: Any) -> None:
    """An activity (call, visit, e-mail, meeting, note, task) was logged; same
    transaction, after the insert. Raising rolls it back. Returns nothing.

    Since 0.1.
    """


@hookspec
def crm_activity_updated(ctx: Any, activity: Any, before: Any, changes: dict) -> None:
    """An activity was updated (including ``activity done``); same transaction.
    Raising rolls it back. Returns nothing.

    Since 0.1.
    """


# --- lifecycle: documents -------------------------------------------------------------


@hookspec
def crm_document_validate(ctx: Any, document: Any, changes: dict, before: Any
                          ) -> list[str] | None:
    """Check a document (quote, contract, order, invoice, payment, credit note,
    expense) before it is inserted or updated; same contract as
    ``crm_customer_validate``: return error strings, any error aborts, must not write.

    Since 0.1.
    """


@hookspec
def crm_document_created(ctx: Any, document: Any) -> None:
    """A document was inserted (with its lines); same transaction, after the insert.
    Raising rolls it back. Returns nothing.

    Since 0.1.
    """


@hookspec
def crm_document_updated(ctx: Any, document: Any, before: Any, changes: dict) -> None:
    """A document was updated (for example ``doc status ID void``); same transaction.
    Raising rolls it back. Returns nothing.

    Since 0.1.
    """


@hookspec
def crm_reassign(ctx: Any, from_user: str, to_user: str) -> None:
    """A leaving salesperson's work is handed over (``customer reassign``).

    Fires once, in the transaction that moved ``from_user``'s customers and open tasks
    to ``to_user``; plugins move their own open items (opportunities, ...) here.
    Returns nothing.

    Since 0.1.
    """


# --- extension hooks (every installed plugin) -----------------------------------------


@hookspec(historic=True)
def crm_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    """Add a plugin's own hookspecs with ``pluginmanager.add_hookspecs(module)``.

    Historic: called for every plugin as it is registered. Other plugins then
    implement those hooks without importing the plugin that declares them; the core
    calls them for enabled plugins through ``ctx.hooks.<name>(...)``. Returns nothing.
    A plugin that raises here is listed as broken (``crm_addhooks failed: ...``).

    Since 0.1.
    """


@hookspec
def crm_tables(metadata: Any, prefix: str) -> None:
    """Define the plugin's tables on the shared SQLAlchemy ``metadata``.

    Called once per ``crmkit.open``, for every installed plugin. Name tables
    ``f"{prefix}<plugin>_<name>"`` and give them a ``tenant_id`` column that leads every
    index. Read them back later with ``ctx.crm.table("<plugin>_<name>")``. Returns
    nothing. A plugin that raises here is listed as broken with the error, the tables
    it defined are taken back, and ``crmkit.open`` goes on with the others.

    Since 0.1.
    """


@hookspec
def crm_cli(cli: Any) -> None:
    """Add click commands to the root ``crmkit`` group (``cli.add_command(group)``).

    Called for every installed plugin when the CLI starts. Plugin commands hang under
    the plugin's name; when the plugin is not enabled for the tenant, running one
    says how to enable it. Get the service API in a command with
    ``crmkit.cli.get_crm()``. Returns nothing. A plugin that raises here is listed as
    broken and its commands are not offered (``--debug`` shows the traceback).

    Since 0.1.
    """


@hookspec(firstresult=True)
def crm_settings() -> Any:
    """Return the plugin's settings class: a frozen attrs class with defaults.

    An alternative to ``PLUGIN.settings``. Values are stored per tenant and validated
    by cattrs (``crmkit plugins set NAME KEY VALUE``); read them with
    ``ctx.settings("<plugin>")``. Returns the class. Asked once, when the plugin
    manager is made; a plugin that raises here is listed as broken.

    Since 0.1.
    """


@hookspec
def crm_jobs() -> list[Any]:
    """Declare the plugin's periodic jobs: a list of :class:`crmkit.jobs.Job`.

    Called for every installed plugin whenever jobs are listed or run (``crmkit jobs
    list``, ``crmkit jobs run NAME``, ``crm.jobs.run(NAME)``, the Celery tasks of
    ``crmkit.celery``). Name a job ``"<plugin>.<verb>"`` (``grading.run``). A job runs
    once per tenant, only for tenants that have the declaring plugin enabled, never
    twice at once for one tenant (crmkit holds a database lock around it), as the
    tenant's acting user: ``Job(name, run, description)`` where ``run(crm)`` does the
    tenant's work through ``crm`` and returns a one-line summary (or None). It must be
    idempotent: running it again delivers and changes nothing new. Raising marks the
    tenant ``failed`` and never stops the other tenants. Must not write when called;
    build the description with the plugin's ``_()`` inside the hook so it is
    translated. Returns the list (empty or None when the plugin has no jobs).

    Since 0.2.
    """


# --- per-tenant query hooks (enabled plugins only) ------------------------------------


@hookspec
def crm_customer_sections(ctx: Any, customer: Any, on: Any) -> Any:
    """Panels of the customer's 360° view (``customer show``) as of date ``on``.

    Return a :class:`crmkit.Section` (or a list of them, or None). ``data`` must be
    JSON-ready; it appears under ``sections[<plugin>]``. Read-only.

    Since 0.1.
    """


@hookspec
def crm_reminders(ctx: Any, on: Any) -> list[Any] | None:
    """What needs someone's attention on date ``on``: a list of :class:`crmkit.Reminder`.

    ``key`` must be stable (the same situation gives the same key) so that delivery
    is idempotent. Read-only: compute in SQL. The core drops reminders the current
    user may not see.

    Since 0.1.
    """


@hookspec
def crm_today(ctx: Any, on: Any) -> dict[str, Any] | None:
    """The plugin's parts of ``crmkit today``, the owner's one screen, as of date ``on``.

    Fires once per ``crmkit today`` (and ``crmkit.summary.today(crm)``) for the plugins
    enabled for the tenant, inside a read-only unit. Return a dict of parts named as
    in ``docs/admin/index.md`` ("The day's screen"), e.g. ``{"receivables":
    {"outstanding", "overdue", "top_overdue"}}`` or ``{"customers": {"at_risk": 3}}``
    (keys of a part the core already has are merged into it), or None. Values must be
    JSON-ready (amounts as two-decimal strings) and in the user's scope: compute in
    SQL and limit it with ``ctx.crm.customers.visible(ctx)``. A part no enabled
    plugin gives stays null. Read-only.

    Since 0.2.
    """


@hookspec
def crm_report_sections(ctx: Any, on: Any) -> Any:
    """The plugin's sections of ``crmkit report`` (the HTML report) as of date ``on``.

    Fires once per report, for the plugins enabled for the tenant, inside a read-only
    unit, after the core's own section. Return a :class:`crmkit.report.ReportSection`
    (or a list of them, or None): headline ``figures`` (label, value) pairs, ``charts``
    (:class:`crmkit.report.Chart`: bar, hbar, line or stacked, as plain numbers) and
    small ``tables`` - data only; the core draws the charts (inline SVG) and lays out
    the page, escaping every text. Labels are translated with the plugin's ``_()``.
    Compute in SQL and stay in the user's scope (``ctx.crm.customers.visible(ctx)``);
    ask the plugin's own permission (``ctx.allowed("<plugin>.<verb>", None)``) and
    return None when it is denied. Must not write. Each plugin's implementation may run
    in a thread and a read-only unit of its own, beside the others' (``crmkit report``
    computes the sections side by side): keep to ``ctx`` and share nothing between calls.

    Since 0.2.
    """


@hookspec
def crm_deliver(ctx: Any, reminders: list[Any]) -> None:
    """Deliver reminders through a channel (terminal, e-mail, webhook).

    Called by ``reminders --send`` with the reminders not delivered before; the core
    records each key in the same transaction, so a reminder is delivered once. A
    channel that raises rolls the recording back and the reminders are offered again
    next time. A channel that talks to the outside (SMTP, HTTP) does not do it here,
    inside the transaction: it queues the work in its own table and sends it after
    commit (``ctx.on_commit(fn)``), like the email plugin; ``ctx.echo`` lines are
    printed after the commit, so nothing is shown as delivered that was rolled back.
    Returns nothing.

    Since 0.1.
    """


@hookspec
def crm_permission(ctx: Any, user: Any, action: str, record: Any) -> bool | None:
    """May ``user`` do ``action`` (``view``, ``create``, ``update``, ``archive``,
    ``delete``) to ``record`` (a Customer, Contact, Activity or Document, or a plugin's
    own record)?

    ``action`` is a record action or a named one (``plugins.manage``,
    ``customers.reassign``, ``grading.run``, ...). Return True, False or None (no
    opinion). Any False denies; if nobody says True the action is denied too. The
    built-in ``permissions`` plugin answers named actions from its role table (True
    or no opinion, so another plugin may grant them too), and for records gives admins
    and managers everything in their tenant and salespeople their own customers and
    those customers' items (docs/admin/permissions.md).

    Since 0.1.
    """


@hookspec
def crm_customer_scope(ctx: Any, user: Any, customers: Any) -> Any:
    """A SQL condition on the ``customers`` table limiting what ``user`` may see.

    Called for every list and report (``crm.customers.visible(ctx)``); all conditions
    returned are ANDed. Return None for no limit. The built-in ``permissions`` plugin
    limits a ``sales`` user to ``customers.owner == user.name``. Read-only.

    Since 0.1.
    """


@hookspec
def crm_activity_scope(ctx: Any, user: Any, activities: Any) -> Any:
    """A SQL condition on the ``activities`` table limiting which timeline entries
    ``user`` may see, beyond the customer scope (``crm_customer_scope``).

    For a plugin that writes timeline entries about its own records: the ``sales``
    plugin's notes about an opportunity ("Opportunity #3 'ERP' opened: lead,
    77777.00") are hidden from a user who may not see that opportunity. Called for
    every activity list, show and change (``crm.activities.visible(ctx)``) and for the
    activity rows of the change feed; all conditions returned are ANDed. Return None
    for no limit. Read-only.

    Since 0.2.
    """


@hookspec
def crm_change_scope(ctx: Any, user: Any, audit: Any) -> Any:
    """A SQL condition on the ``audit`` table (the change feed: ``table_name``,
    ``row_id``, ``customer_id``, ``user``) limiting which changes ``user`` may read.

    Rows of the core's records already follow the customer scope and
    ``crm_activity_scope``; a plugin limits the rows of its own record type to the
    records the user may see, e.g. ``or_(audit.c.table_name != "opportunity",
    audit.c.row_id.in_(<ids of the opportunities the user may see>))``. Called by
    ``crm.changes()`` and ``crmkit changes``; all conditions returned are ANDed. Return
    None for no limit. Read-only.

    Since 0.2.
    """


@hookspec
def crm_demo(crm: Any, customers: list[Any], rng: Any) -> None:
    """Add the plugin's share of ``crmkit demo``'s sample business.

    Called after the core sample data exists and the plugin is enabled; ``customers``
    are the sample customers, ``rng`` a seeded ``random.Random`` (use it, so the demo
    stays deterministic). Write through ``crm``. Returns nothing. A plugin that raises
    here is listed as broken; the demo goes on without it and says so.

    Since 0.1.
    """
