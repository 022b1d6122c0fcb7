"""``python -m shiftguard.cli``: the ``shiftguard`` script."""

from shiftguard.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
