"""``--help`` in the reader's language.

Click keeps a command's help (its docstring or ``help=``) and each option's ``help=``
as plain English strings, read once at import. ``tools/i18n.py`` extracts them into
the catalog of the package that defines them; here, when the current locale is not
English, the root group hands out *copies* of the commands whose help texts are
translated (the command's own package catalog first, then the core's, for options
such as ``--json`` that the core lends to plugins). The originals are never changed,
so two languages in one process (tests, a host application) do not see each other's.
"""

from __future__ import annotations

import copy
import inspect

import click

from ..i18n import CORE, DEFAULT_LOCALE, N_, Domain, current_locale

# click's --version option is a parameter of the root group: its help reads like the rest
N_("Show the version and exit.")

_domains: dict[str, Domain] = {}


def _domain(cmd: click.Command) -> Domain:
    fn = getattr(cmd, "callback", None)
    module = getattr(fn, "__module__", None) or type(cmd).__module__
    package = module.split(".")[0]
    dom = _domains.get(package)
    if dom is None:
        dom = CORE if package == "crmkit" else Domain(package)
        _domains[package] = dom
    return dom


def translated(obj: object, text: str) -> str:
    """``text`` (a literal of the package that defines ``obj``: a module, a class or a
    function) in the current locale, from that package's catalog or the core's."""
    if not text or current_locale() == DEFAULT_LOCALE:
        return text
    module = getattr(obj, "__name__", None) if isinstance(obj, type(click)) else None
    module = module or getattr(obj, "__module__", None) or "crmkit"
    package = module.split(".")[0]
    dom = _domains.setdefault(package, CORE if package == "crmkit" else Domain(package))
    return _tr(dom, text) or text


def _tr(dom: Domain, text: str | None) -> str | None:
    """``text`` from ``dom``'s catalog, else the core's, else itself."""
    if not text:
        return text
    clean = inspect.cleandoc(text).partition("\f")[0].strip()
    out = dom.gettext(clean)
    if out == clean and dom is not CORE:
        out = CORE.gettext(clean)
    return text if out == clean else out


def _short(text: str) -> str:
    """The first sentence of a translated help text (click's own shortening cuts
    at a '.' followed by a space, which Chinese text does not have)."""
    first = text.strip().split("\n\n", 1)[0].replace("\n", "")
    return first.split("。", 1)[0].split("；", 1)[0].rstrip("。.")


def localized(cmd: click.Command) -> click.Command:
    """``cmd`` (a copy, with its subcommands and parameters) with its help texts in
    the current locale; ``cmd`` itself in English or when nothing is translated."""
    if current_locale() == DEFAULT_LOCALE or getattr(cmd, "_crmkit_localized", False):
        return cmd
    dom = _domain(cmd)
    new = copy.copy(cmd)
    new._crmkit_localized = True  # type: ignore[attr-defined]
    help_text = _tr(dom, cmd.help)
    if help_text is not cmd.help and help_text is not None:
        new.help = help_text
    if not cmd.short_help and new.help and "。" in new.help:
        new.short_help = _short(new.help)
    if cmd.short_help:
        new.short_help = _tr(dom, cmd.short_help)
    params: list[click.Parameter] = []
    for p in cmd.params:
        text = getattr(p, "help", None)
        translated = _tr(dom, text)
        if translated is not text:
            p = copy.copy(p)
            p.help = translated  # type: ignore[attr-defined]
        params.append(p)
    new.params = params
    if isinstance(cmd, click.Group):
        new.commands = {name: localized(sub) for name, sub in cmd.commands.items()}  # type: ignore[attr-defined]
    return new


__all__ = ["localized", "translated"]
