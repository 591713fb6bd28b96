"""`smd train`: LoRA fine-tuning on prompt docs. The stage is `harness.train.main` (`python -m
harness.train` runs it too); the rest is its own: typed config (`config`), examples and batches
(`data`), shared-prefix packing of a motion's examples into one sequence (`packing`), the model and
its LoRA (`model`), the answer-token loss (`loss`), validation (`validation`),
the run's state and record (`state`), resumable checkpoints (`checkpoints`), the encoder baseline's
model and inputs (`encoder_model`) and the loop (`loop`).

The face: the typed `train:` settings and the error a run fails with. Torch is imported only when a
run starts.
"""

from .checkpoints import TrainingError
from .config import LORA_TARGETS, TrainConfig, load_train_config

__all__ = ["LORA_TARGETS", "TrainConfig", "TrainingError", "load_train_config"]
