"""`python -m harness.attention` == `smd attention`."""

import sys

from .main import main

sys.exit(main())
