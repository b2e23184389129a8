"""Test plugins: a recorder of every lifecycle hook call, and a plugin that fails on
purpose in a chosen hook."""

from __future__ import annotations

from typing import Any

import attrs

import crmkit

LIFECYCLE = ["crm_customer_created", "crm_customer_updated", "crm_customer_archived",
             "crm_activity_logged", "crm_activity_updated", "crm_document_created",
             "crm_document_updated"]


@attrs.frozen
class RecorderSettings:
    label: str = "x"
    limit: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    token: str = attrs.field(default="", metadata={"secret": True})


class Recorder:
    """Records (hook, record id) for every lifecycle hook, per instance."""

    def __init__(self, name: str = "recorder", requires: tuple[str, ...] = ()):
        self.PLUGIN = crmkit.PluginSpec(name=name, version="1.0", description="records",
                                        requires=requires, settings=RecorderSettings)
        self.calls: list[tuple[str, Any]] = []
        self.name = name

    def _rec(self, hook: str, record: Any) -> None:
        self.calls.append((hook, getattr(record, "id", record)))

    @crmkit.hookimpl
    def crm_customer_created(self, ctx: Any, customer: Any) -> None:
        self._rec("crm_customer_created", customer)

    @crmkit.hookimpl
    def crm_customer_updated(self, ctx: Any, customer: Any, before: Any, changes: dict) -> None:
        self._rec("crm_customer_updated", customer)
        self.calls.append(("changes", tuple(sorted(changes))))

    @crmkit.hookimpl
    def crm_customer_archived(self, ctx: Any, customer: Any) -> None:
        self._rec("crm_customer_archived", customer)

    @crmkit.hookimpl
    def crm_activity_logged(self, ctx: Any, activity: Any) -> None:
        self._rec("crm_activity_logged", activity)

    @crmkit.hookimpl
    def crm_activity_updated(self, ctx: Any, activity: Any) -> None:
        self._rec("crm_activity_updated", activity)

    @crmkit.hookimpl
    def crm_document_created(self, ctx: Any, document: Any) -> None:
        self._rec("crm_document_created", document)

    @crmkit.hookimpl
    def crm_document_updated(self, ctx: Any, document: Any) -> None:
        self._rec("crm_document_updated", document)

    @crmkit.hookimpl
    def crm_reassign(self, ctx: Any, from_user: str, to_user: str) -> None:
        self.calls.append(("crm_reassign", (from_user, to_user)))


class Failing:
    """Raises RuntimeError in ``hook`` (and returns an error from validate hooks when
    ``hook`` is a validate hook)."""

    def __init__(self, hook: str, name: str = "failing"):
        self.PLUGIN = crmkit.PluginSpec(name=name, description="fails on purpose")
        self.hook = hook

        def fail(ctx: Any) -> Any:
            if hook.endswith("_validate"):
                return [f"{name} refuses"]
            raise RuntimeError("boom")

        setattr(self, hook, crmkit.hookimpl(fail))


class Ordered:
    """Appends its name to a shared log in crm_customer_created."""

    def __init__(self, name: str, log: list[str], requires: tuple[str, ...] = (),
                 **impl_opts: Any):
        self.PLUGIN = crmkit.PluginSpec(name=name, requires=requires)
        self.log = log

        def created(ctx: Any, customer: Any) -> None:
            self.log.append(name)

        self.crm_customer_created = crmkit.hookimpl(**impl_opts)(created)
