"""`python -m harness.report` == `smd report`."""

import sys

from .main import main

sys.exit(main())
