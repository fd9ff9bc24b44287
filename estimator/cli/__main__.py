"""``python -m estimator.cli``: the same command line as ``estimator``."""

import sys

from estimator.cli import main

sys.exit(main())
