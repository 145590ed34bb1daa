"""``python -m drlspec``: the same as the ``drlspec`` command."""

import sys

from drlspec.cli import main

sys.exit(main())
