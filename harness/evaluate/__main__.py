"""`python -m harness.evaluate` == `smd evaluate`."""

import sys

from .main import main

sys.exit(main())
