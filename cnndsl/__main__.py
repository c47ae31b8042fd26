"""``python -m cnndsl`` is the ``cnndsl`` command."""

import sys

from .cli import main

sys.exit(main())
