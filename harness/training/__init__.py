"""LoRA training internals: typed config (`config`), examples and batches (`data`), the loop (`loop`).

The entry point is `harness.train`.
"""
