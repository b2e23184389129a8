"""Write the role table of docs/admin/permissions.md from crmkit/builtin/permissions.py.

    python tools/gen_permissions_doc.py           # rewrite the table in the page
    python tools/gen_permissions_doc.py --check   # exit 1 if the page's table is stale

The table sits between the markers ``<!-- role table -->`` and ``<!-- end role table
-->``; the rest of the page is written by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "admin" / "permissions.md"
START, END = "<!-- role table -->\n", "<!-- end role table -->"


def render(page: str) -> str:
    """``page`` with the text between the markers replaced by the current table."""
    from crmkit.builtin.permissions import markdown_table

    head, _sep, rest = page.partition(START)
    _old, sep, tail = rest.partition(END)
    if not sep:
        raise SystemExit(f"{PAGE}: the markers {START.strip()} / {END} are missing")
    return f"{head}{START}\n{markdown_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    page = PAGE.read_text(encoding="utf-8")
    fresh = render(page)
    if args.check:
        if fresh != page:
            print(f"{PAGE} is stale: run python tools/gen_permissions_doc.py",
                  file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
