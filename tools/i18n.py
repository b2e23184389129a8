"""The translation catalogs of this repository: ``crmkit.catalogs`` run on its root.

    python tools/i18n.py update && python tools/i18n.py compile

(``check`` and ``todo`` too; see ``crmkit/catalogs.py``.)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crmkit.catalogs import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(root=Path(__file__).resolve().parent.parent, prog="tools/i18n.py"))
