"""LoRA training internals: typed config (`config`), examples and batches (`data`), the answer-token
loss (`loss`), validation (`validation`), resumable checkpoints (`checkpoints`) and the loop (`loop`).

The entry point is `harness.train`.
"""
