"""The sales plugin's settings: pipeline stages and the thresholds of its rules."""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from crmkit.i18n import Domain
from crmkit.settings import MAX_DAYS, integer, quote

_ = Domain("crmkit_sales").gettext

DEFAULT_STAGES = (("lead", 10), ("qualified", 30), ("proposal", 60), ("negotiation", 80),
                  ("won", 100), ("lost", 0))
STAGE_NAME_MAX = 64


def _stages(value: Any) -> tuple[tuple[str, int], ...]:
    """Turn ``[["lead", 10], ...]`` into a tuple of (name, probability) pairs, checked."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValueError(_("setting stages must be a list of [name, probability] "
                           "pairs, got {value}").format(value=quote(value)))
    out: list[tuple[str, int]] = []
    for item in value:
        if (isinstance(item, str | bytes) or not isinstance(item, list | tuple)
                or len(item) != 2):
            raise ValueError(_("setting stages: each stage is a [name, "
                               "probability] pair, got {item}").format(item=quote(item)))
        name, prob = item
        if not isinstance(name, str) or not name.strip() or len(name) > STAGE_NAME_MAX:
            raise ValueError(_("setting stages: stage name {name} must be a "
                               "non-empty text of at most {STAGE_NAME_MAX} "
                               "characters").format(
                                 name=quote(name), STAGE_NAME_MAX=STAGE_NAME_MAX))
        if isinstance(prob, bool) or not isinstance(prob, int) or not 0 <= prob <= 100:
            raise ValueError(_("setting stages: probability of stage '{name}' must "
                               "be a whole number from 0 to 100, got {prob}").format(
                                 name=name, prob=quote(prob)))
        out.append((name.strip(), prob))
    names = [n for n, _ in out]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise ValueError(_("setting stages: stage name '{dups}' appears more than "
                           "once").format(dups=dups[0]))
    for p, what in ((100, "won"), (0, "lost")):
        hits = [n for n, q in out if q == p]
        if len(hits) != 1:
            raise ValueError(
                _("setting stages must have exactly one stage with probability {p} "
                  "(the '{what}' stage), found {n}").format(p=p, what=what, n=len(hits))
                + (f": {', '.join(hits)}" if hits else ""))
    if len(out) < 3:
        raise ValueError(_("setting stages needs at least one open stage besides "
                           "the won (100) and lost (0) stages"))
    return tuple(out)


@frozen
class SalesSettings:
    """``crmkit plugins set sales KEY VALUE``.

    * ``stages``: pipeline order with win probabilities in percent; exactly one stage at
      100 (the won stage) and one at 0 (the lost stage), which close an opportunity.
    * ``class_a_days`` / ``class_a_probability``: prospect class A window and threshold.
    * ``stale_days``: days without any activity before ``stale_opportunity``.
    * ``expense_alert_pct``: flag an owner whose expense ratio exceeds the team's by more.
    """

    stages: Any = field(default=DEFAULT_STAGES, converter=_stages)
    class_a_days: int = integer(30, low=0, high=MAX_DAYS)
    class_a_probability: int = integer(60, low=0, high=100)
    stale_days: int = integer(14, low=1, high=MAX_DAYS)
    expense_alert_pct: int = integer(50, low=0, high=1_000_000)

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.stages]

    @property
    def probability(self) -> dict[str, int]:
        return dict(self.stages)

    @property
    def won(self) -> str:
        return next(n for n, p in self.stages if p == 100)

    @property
    def lost(self) -> str:
        return next(n for n, p in self.stages if p == 0)

    @property
    def open_stages(self) -> list[str]:
        """Stages that keep an opportunity open, in pipeline order."""
        return [n for n, p in self.stages if p not in (0, 100)]

    @property
    def rank(self) -> dict[str, int]:
        """Pipeline position: open stages in order, then the won stage (lost has none)."""
        order = [*self.open_stages, self.won]
        return {n: i for i, n in enumerate(order)}
