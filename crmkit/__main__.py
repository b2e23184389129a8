"""``python -m crmkit``: the ``crmkit`` command through this interpreter (no PATH needed)."""

from crmkit.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
