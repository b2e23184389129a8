"""``crmkit.batching.gc_paused`` (issue 17): the bulk paths hold the cyclic garbage
collector off per batch and always give it back as they found it."""

from __future__ import annotations

import gc
from typing import Any

import pytest

import crmkit
from crmkit.batching import gc_paused


@pytest.fixture
def collector():
    """Leave the collector enabled after each test, whatever the test did."""
    yield
    gc.enable()


def test_the_pause_restores_the_collector_nests_and_survives_an_error(collector):
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block found it off and left it off
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), gc_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()
    gc.disable()  # a process that runs without the collector keeps it off
    with gc_paused():
        pass
    assert not gc.isenabled()


class Watcher:
    """Notes whether the collector ran while each batch was checked and created."""

    PLUGIN = crmkit.PluginSpec(name="watcher")

    def __init__(self) -> None:
        self.seen: list[bool] = []

    @crmkit.hookimpl
    def crm_customers_validate(self, customers: list) -> Any:
        self.seen.append(gc.isenabled())
        return []

    @crmkit.hookimpl
    def crm_customers_created(self, customers: list) -> None:
        self.seen.append(gc.isenabled())


def test_add_many_pauses_per_batch_and_gives_the_collector_back(crm_factory, collector):
    w = Watcher()
    crm = crm_factory(plugins=[w], enable=["watcher"])
    gc.enable()
    assert crm.customers.add_many([{"name": f"c{i}"} for i in range(5)], batch_size=2) == 5
    assert w.seen == [False] * 6  # 3 batches, validated and created, all paused
    assert gc.isenabled()
    with pytest.raises(crmkit.ValidationError):
        crm.customers.add_many([{"name": "ok"}, {"name": ""}])
    assert gc.isenabled()  # a refused batch gives it back too
    assert crm.customers.update_many([(c.id, {"status": "active"})
                                      for c in crm.customers.list()]) == 5
    assert gc.isenabled()


def test_an_import_pauses_per_chunk_and_gives_the_collector_back(crm_factory, collector,
                                                                  tmp_path):
    from crmkit_csv import import_file

    w = Watcher()
    crm = crm_factory(plugins=[w], enable=["csv", "watcher"])
    src = tmp_path / "c.csv"
    src.write_text("name,email\n甲,a@x.cn\n乙,b@x.cn\n丙,c@x.cn\n", encoding="utf-8")
    gc.enable()
    assert import_file(crm, "customers", src, batch_size=2).imported == 3
    assert w.seen and not any(w.seen)
    assert gc.isenabled()


class GradeWatcher:
    """Notes whether the collector ran while each grade change was announced."""

    PLUGIN = crmkit.PluginSpec(name="gradewatcher")

    def __init__(self) -> None:
        self.seen: list[bool] = []

    @crmkit.hookimpl
    def crm_grade_changed(self, customer: Any, before: Any, after: Any) -> None:
        self.seen.append(gc.isenabled())


def test_a_grading_run_pauses_per_page_and_gives_the_collector_back(crm_factory,
                                                                      collector):
    import crmkit_grading

    w = GradeWatcher()
    crm = crm_factory(plugins=[w], enable=["grading", "gradewatcher"])
    crm.customers.add_many([{"name": "甲"}, {"name": "乙"}])
    gc.enable()
    assert crmkit_grading.run(crm)["changed"] == 2
    assert w.seen == [False, False]
    assert gc.isenabled()


def test_each_batch_hands_out_batches_with_what_was_done_before_under_the_pause(collector):
    from crmkit.batching import each_batch

    gc.enable()
    calls: list[tuple[list[int], int, bool]] = []

    def fn(batch: list[int], done: int) -> int:
        calls.append((batch, done, gc.isenabled()))
        return len(batch) * 10

    assert each_batch(iter(range(5)), 2, fn) == 50  # 20 + 20 + 10
    assert calls == [([0, 1], 0, False), ([2, 3], 20, False), ([4], 40, False)]
    assert gc.isenabled()
    assert each_batch([], 3, fn) == 0 and len(calls) == 3

    def boom(batch: list[int], done: int) -> int:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        each_batch(range(3), 2, boom)
    assert gc.isenabled()
