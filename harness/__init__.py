"""smd-bench harness: command-line tools and helpers around the `smd` package.

`smd` itself is pure (arrays in, text out); everything that touches files, plots or the
command line lives here. Entry point: `harness.cli:main` (the `smd` console script).
"""

__all__: list[str] = []
