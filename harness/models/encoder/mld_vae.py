"""The motion encoder of MotionGPT3: the encoder half of MLD's motion VAE, written here from its
published architecture so that the released weights load strictly.

Facts (read from OpenMotionLab/MotionGPT3 `motGPT/archs/mld_vae.py`, `configs/vae/mldvae.yaml` and
ChenFengYe/motion-latent-diffusion, whose VAE MotionGPT3 reuses unchanged; no code taken):
- input: HumanML3D's 263-d features at 20 fps, normalised by the dataset's Mean.npy / Std.npy;
- `skel_embedding`: Linear 263 -> 256; two learned tokens `global_motion_token` [2, 256] (mu, log-variance)
  are put before the frames; a learned positional table `query_pos_encoder.pe` [500, 1, 256] is added
  (so at most 498 frames);
- a "skip" transformer encoder of 9 post-norm layers (4 heads, feed-forward 1024, GELU, dropout 0.1):
  4 `input_blocks` whose outputs are kept, a `middle_block`, then 4 `output_blocks`, each after a
  `linear_blocks` Linear 512 -> 256 over [current, the kept output], last kept first; a final LayerNorm;
- read-out: mu = output at token 0, log-variance = output at token 1; one 256-d latent per clip.
MotionGPT3 feeds the LLM `z * 0.8457` (its `mean_std_inv`) with z sampled from N(mu, std) even at
inference; here the latent is mu (deterministic evaluation: a stated deviation), scaled the same way.

The released weights are MLD's `1222_mld_humanml3d_FID041.ckpt` (also inside `motiongpt3.ckpt`), a
PyTorch Lightning file under `state_dict` with the prefix `vae.`; `load_mld_encoder_state` reads the
encoder's 122 tensors from it with `torch.load(weights_only=True)`. A Lightning file that also pickles
its configs is refused by `weights_only=True`: save its `vae.*` tensors once as a plain dict (in an
environment you trust) and give that file instead.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

__all__ = ["LATENT_SCALE", "MLD_FEATURES", "MldVaeEncoder", "load_mld_encoder_state"]

MLD_FEATURES = 263
LATENT_SCALE = 0.8457  # MotionGPT3's `mean_std_inv`: the latent times this is what its LLM reads
_DECODER_PREFIXES = ("decoder.", "query_pos_decoder.", "final_layer.")


class _EncoderLayer(nn.Module):
    """A post-norm transformer encoder layer (attention, then feed-forward, each residual + LayerNorm)."""

    def __init__(self, width: int, heads: int, ff_size: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(width, heads, dropout=dropout)
        self.linear1 = nn.Linear(width, ff_size)
        self.linear2 = nn.Linear(ff_size, width)
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        attended = self.self_attn(x, x, x, key_padding_mask=padding, need_weights=False)[0]
        x = self.norm1(x + self.dropout1(attended))
        fed = self.linear2(self.dropout(nn.functional.gelu(self.linear1(x))))
        return self.norm2(x + self.dropout2(fed))


class _SkipEncoder(nn.Module):
    """`num_layers` (odd) layers: the first half's outputs come back, last first, into the second half."""

    def __init__(self, layer: _EncoderLayer, num_layers: int, width: int) -> None:
        super().__init__()
        if num_layers % 2 != 1:
            raise ValueError(f"a skip encoder has an odd number of layers, got {num_layers}")
        half = num_layers // 2
        self.input_blocks = nn.ModuleList(copy.deepcopy(layer) for _ in range(half))
        self.middle_block = copy.deepcopy(layer)
        self.output_blocks = nn.ModuleList(copy.deepcopy(layer) for _ in range(half))
        self.linear_blocks = nn.ModuleList(nn.Linear(2 * width, width) for _ in range(half))
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        kept = []
        for block in self.input_blocks:
            x = block(x, padding)
            kept.append(x)
        x = self.middle_block(x, padding)
        for block, merge in zip(self.output_blocks, self.linear_blocks):
            x = block(merge(torch.cat([x, kept.pop()], dim=-1)), padding)
        return self.norm(x)


class _LearnedPositions(nn.Module):
    def __init__(self, max_len: int, width: int) -> None:
        super().__init__()
        self.pe = nn.Parameter(torch.empty(max_len, 1, width).uniform_())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [length, batch, width]
        return x + self.pe[: x.shape[0]]


class MldVaeEncoder(nn.Module):
    """features [batch, frames, 263] (normalised) + lengths -> a latent [batch, 256] per clip (mu, scaled)."""

    def __init__(
        self,
        *,
        nfeats: int = MLD_FEATURES,
        latent_dim: int = 256,
        ff_size: int = 1024,
        num_layers: int = 9,
        num_heads: int = 4,
        dropout: float = 0.1,
        max_len: int = 500,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.max_frames = max_len - 2
        self.skel_embedding = nn.Linear(nfeats, latent_dim)
        self.global_motion_token = nn.Parameter(torch.randn(2, latent_dim))
        self.query_pos_encoder = _LearnedPositions(max_len, latent_dim)
        self.encoder = _SkipEncoder(
            _EncoderLayer(latent_dim, num_heads, ff_size, dropout), num_layers, latent_dim
        )
        for p in self.encoder.parameters():  # MLD's initialisation, for training from scratch
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = features.shape
        if frames > self.max_frames:
            raise ValueError(f"{frames} frames: the MLD encoder reads at most {self.max_frames}")
        x = self.skel_embedding(features).permute(1, 0, 2)  # [frames, batch, width]
        tokens = self.global_motion_token[:, None, :].expand(-1, batch, -1)
        valid = torch.arange(frames, device=features.device)[None, :] < lengths[:, None]
        valid = torch.cat([torch.ones(batch, 2, dtype=torch.bool, device=features.device), valid], dim=1)
        out = self.encoder(self.query_pos_encoder(torch.cat([tokens, x], dim=0)), ~valid)
        return out[0] * LATENT_SCALE  # mu; out[1] is the log-variance, unused when not sampling


def load_mld_encoder_state(path: Path | str) -> dict[str, torch.Tensor]:
    """The encoder's tensors (no `vae.` prefix, no decoder) from an MLD / MotionGPT3 checkpoint:
    a Lightning file (`state_dict`, possibly nested once), or a plain dict of `vae.*` tensors.

    Raises:
        ValueError: not loadable with `weights_only=True` (with what to do), or no `vae.` tensors.
    """
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for a file that pickles more than tensors
        raise ValueError(
            f"{path}: not loadable with torch.load(weights_only=True) ({type(e).__name__}); save its `vae.*` "
            "tensors once as a plain dict in an environment you trust and give that file"
        ) from None
    state = raw
    while isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds a {type(state).__name__}, not a state dict")
    encoder = {
        key.removeprefix("vae."): value
        for key, value in state.items()
        if key.startswith("vae.") and not key.removeprefix("vae.").startswith(_DECODER_PREFIXES)
    }
    if not encoder:
        raise ValueError(f"{path}: no `vae.` tensors (an MLD or MotionGPT3 checkpoint has them)")
    return encoder
