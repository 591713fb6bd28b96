"""`python -m harness.train` (and `accelerate launch -m harness.train`) == `smd train`."""

import sys

from .main import main

sys.exit(main())
