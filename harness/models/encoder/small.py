"""A small motion encoder trained from scratch (for the offline demo) and the projector to soft tokens."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Projector", "SmallMotionEncoder"]


class SmallMotionEncoder(nn.Module):
    """features [batch, frames, nfeats] + lengths -> one latent [batch, latent_dim] per clip: two 1-D
    convolutions over time, then the mean and the max over the clip's own frames (padding ignored)."""

    def __init__(
        self, *, nfeats: int = 263, width: int = 128, latent_dim: int = 256, kernel: int = 5
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.conv1 = nn.Conv1d(nfeats, width, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.out = nn.Linear(2 * width, latent_dim)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        valid = torch.arange(features.shape[1], device=features.device)[None, :] < lengths[:, None]
        x = features.masked_fill(~valid[..., None], 0.0).transpose(1, 2)  # [batch, nfeats, frames]
        x = nn.functional.gelu(self.conv2(nn.functional.gelu(self.conv1(x)))).transpose(1, 2)
        x = x.masked_fill(~valid[..., None], 0.0)
        mean = x.sum(dim=1) / lengths[:, None].clamp(min=1).to(x.dtype)
        peak = x.masked_fill(~valid[..., None], float("-inf")).amax(dim=1)
        return self.out(torch.cat([mean, peak], dim=-1))


class Projector(nn.Module):
    """latent [batch, latent_dim] -> [batch, n_tokens, width] soft tokens: a two-layer MLP (GELU), or
    with `hidden=0` one Linear, as MotionGPT3's `motion_und_head` (256 -> 4 x 768)."""

    def __init__(self, latent_dim: int, width: int, n_tokens: int = 4, hidden: int = 1024) -> None:
        super().__init__()
        self.n_tokens, self.width = n_tokens, width
        out = n_tokens * width
        layers = (
            [nn.Linear(latent_dim, out)]
            if hidden == 0
            else [nn.Linear(latent_dim, hidden), nn.GELU(), nn.Linear(hidden, out)]
        )
        self.layers = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.layers(latent).view(latent.shape[0], self.n_tokens, self.width)
