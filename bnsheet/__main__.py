"""``python -m bnsheet`` is the ``bnsheet`` command."""

from .cli import main

raise SystemExit(main())
