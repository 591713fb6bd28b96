"""LoRA training internals, private to the `smd train` stage (`harness.train`): typed config (`config`),
examples and batches (`data`), the model and its LoRA (`model`), the answer-token loss (`loss`),
validation (`validation`), the run's state and record (`state`), resumable checkpoints (`checkpoints`)
and the loop (`loop`).
"""
