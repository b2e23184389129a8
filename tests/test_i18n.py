"""The translation layer: catalogs per domain, the locale per context, CRMKIT_LANG."""

from __future__ import annotations

import asyncio
import threading

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from crmkit import ValidationError
from crmkit.i18n import Domain, current_locale, env_locale, use_locale


@pytest.fixture
def domain(tmp_path):
    cat = Catalog(locale="zh_CN", domain="crmkit_t")
    cat.add("customer {id} not found", "未找到客户 {id}")
    cat.add(("{n} reminder", "{n} reminders"), ("{n} 条提醒",))
    folder = tmp_path / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "crmkit_t.mo", "wb") as f:
        write_mo(f, cat)
    return Domain("crmkit_t", tmp_path)


def test_english_is_the_message_itself(domain, monkeypatch):
    monkeypatch.delenv("CRMKIT_LANG", raising=False)
    assert domain.gettext("customer {id} not found") == "customer {id} not found"
    assert domain.ngettext("{n} reminder", "{n} reminders", 2) == "{n} reminders"


def test_locale_of_the_context_translates(domain, monkeypatch):
    monkeypatch.delenv("CRMKIT_LANG", raising=False)
    with use_locale("zh_CN"):
        assert domain.gettext("customer {id} not found").format(id=7) == "未找到客户 7"
        assert domain.ngettext("{n} reminder", "{n} reminders", 3) == "{n} 条提醒"
        assert domain.gettext("not in the catalog") == "not in the catalog"
    assert current_locale() == "en"


def test_crmkit_lang_overrides_the_tenant(domain, monkeypatch):
    monkeypatch.setenv("CRMKIT_LANG", "zh_CN.UTF-8")
    with use_locale("en"):
        assert domain.gettext("customer {id} not found") == "未找到客户 {id}"


def test_unknown_locale_is_refused(monkeypatch):
    monkeypatch.setenv("CRMKIT_LANG", "klingon")
    with pytest.raises(ValidationError, match="unknown CRMKIT_LANG 'klingon'; valid: en, zh_CN"):
        env_locale()
    with pytest.raises(ValidationError, match="unknown locale 'fr'"):
        with use_locale("fr"):
            pass


def test_threads_and_tasks_keep_their_own_locale(domain, monkeypatch):
    monkeypatch.delenv("CRMKIT_LANG", raising=False)
    seen: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def work(name: str, locale: str) -> None:
        with use_locale(locale):
            barrier.wait()
            seen[name] = domain.gettext("customer {id} not found")

    threads = [threading.Thread(target=work, args=("a", "zh_CN")),
               threading.Thread(target=work, args=("b", "en"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": "未找到客户 {id}", "b": "customer {id} not found"}

    async def task(locale: str) -> str:
        with use_locale(locale):
            await asyncio.sleep(0.01)
            return domain.gettext("customer {id} not found")

    async def both() -> list[str]:
        return await asyncio.gather(task("zh_CN"), task("en"))

    assert asyncio.run(both()) == ["未找到客户 {id}", "customer {id} not found"]
