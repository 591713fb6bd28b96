"""`python -m harness` == the `smd` console script."""

import sys

from .cli import main

sys.exit(main())
