"""Write the next Alembic revision of the core or of a first-party plugin, on a scratch
database (for crmkit's own developers).

    python tools/make_migration.py core -m "users get a locale"
    python tools/make_migration.py receivables -m "reminder log"

A scratch SQLite database is upgraded to every head, then the branch gets what
``crmkit db revision`` writes (see crmkit/migrations/authoring.py): its first revision
creates the tables it defines, a later one what its tables have that the migrations do
not. Plugin authors run ``crmkit db revision --plugin NAME -m MESSAGE`` on their own
database instead; nothing here is needed outside this repository.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import crmkit
from crmkit import migrations


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("branch", help="core, or a first-party plugin's name")
    ap.add_argument("-m", "--message", required=True)
    ap.add_argument("--empty", action="store_true", help="a revision to fill in by hand")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        crm = crmkit.open(f"sqlite:///{d}/scratch.db")
        try:
            migrations.upgrade(crm)
            made = migrations.revision(crm, args.branch, args.message, empty=args.empty)
        except crmkit.CrmError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            crm.close()
    print(made["path"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
