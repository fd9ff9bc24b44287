"""``python -m estimator``: the same command line as ``estimator``."""

import sys

from estimator.cli import main

sys.exit(main())
