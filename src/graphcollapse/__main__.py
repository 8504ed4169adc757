"""``python -m graphcollapse``: the command line of :mod:`graphcollapse.verify.cli`."""

import sys

from graphcollapse.verify.cli import main

sys.exit(main())
