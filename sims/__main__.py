"""``python -m sims``: the ``lander-testbed`` command line."""
import sys

from sims.cli import main

sys.exit(main())
