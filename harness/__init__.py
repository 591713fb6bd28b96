"""smd-bench harness: command-line tools and helpers around the `smd` package.

`smd` itself is pure (arrays in, text out); everything that touches files, plots or the
command line lives here, one package per feature (docs/architecture.md): `core`, `data`, `models`,
`metrics`, `demo`, `describe`, `train`, `results`, `evaluate`, `report`, `attention`. Entry point:
`harness.cli:main` (the `smd` console script); `harness.pipeline` runs one dvc.yaml stage cell.
"""

__all__: list[str] = []
