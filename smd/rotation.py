"""Vectorised rotation helpers. Frames are (..., 3, 3) matrices whose columns are the x, y, z axes.

Convention everywhere in `smd`: +X is the body's left, +Y up, +Z forward (right-handed).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-9


def stack_last(*arrays: np.ndarray) -> np.ndarray:
    """`np.stack(arrays, axis=-1)` for a few float arrays of one shape, without np.stack's
    overhead (it adds up: these helpers run on small arrays, many times per motion)."""
    out = np.empty(arrays[0].shape + (len(arrays),), dtype=arrays[0].dtype)
    for k, a in enumerate(arrays):
        out[..., k] = a
    return out


def median_first(x: np.ndarray) -> np.ndarray:
    """`np.median(x, axis=0, keepdims=True)`, bit for bit, at a third of its cost (its overhead adds
    up: it runs on small arrays, several times per motion). The same partition and the same
    arithmetic: the middle value, or the two middle values' sum halved; any NaN goes to np.median."""
    n = x.shape[0]
    m = n // 2
    if n == 0 or np.isnan(x).any():
        return np.median(x, axis=0, keepdims=True)
    if n % 2:
        return np.partition(x, m, axis=0)[m : m + 1]
    part = np.partition(x, (m - 1, m), axis=0)
    return (part[m - 1 : m] + part[m : m + 1]) / 2


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (np.cross's axis handling costs more than the product)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return stack_last(ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx)


def norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def normalize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along the last axis and their original norms (zero vectors stay zero)."""
    norm_ = norm(v)
    return v / np.maximum(norm_, _EPS)[..., None], norm_


def frame_x_first(lateral: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Right-handed frame whose x axis is exactly `lateral`; y is `up` made orthogonal to it."""
    x, _ = normalize(lateral)
    y, _ = normalize(up - (up * x).sum(axis=-1, keepdims=True) * x)
    return stack_last(x, y, cross(x, y))


def frame_y_first(up: np.ndarray, lateral: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-handed frame whose y axis is exactly `up`; x is `lateral` made orthogonal to it.

    Also returns the norm of that orthogonal part, which says how well-defined x is.
    """
    y, _ = normalize(up)
    x, strength = normalize(lateral - (lateral * y).sum(axis=-1, keepdims=True) * y)
    return stack_last(x, y, cross(x, y)), strength


def to_local(frame: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Coordinates of vectors `v` (..., 3) in `frame` (..., 3, 3)."""
    return np.einsum("...ji,...j->...i", frame, v)


def relative(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Rotation of `child` expressed in `parent`: parent^T @ child."""
    return np.einsum("...ji,...jk->...ik", parent, child)


def rot_x(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def euler_xzy(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angles (radians) with r = Rx(a) @ Rz(b) @ Ry(c), b in [-pi/2, pi/2].

    The order of a limb joint: flexion about the lateral axis, then ad/abduction about the
    forward axis, then axial rotation about the limb's own long axis (OpenSim hip order).
    """
    b = np.arcsin(np.clip(-r[..., 0, 1], -1.0, 1.0))
    a = np.arctan2(r[..., 2, 1], r[..., 1, 1])
    c = np.arctan2(r[..., 0, 2], r[..., 0, 0])
    return a, b, c


def euler_yxz(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angles (radians) with r = Ry(a) @ Rx(b) @ Rz(c), b in [-pi/2, pi/2].

    The pelvis order: heading (yaw) outermost, then tilt, then list.
    """
    b = np.arcsin(np.clip(-r[..., 1, 2], -1.0, 1.0))
    a = np.arctan2(r[..., 0, 2], r[..., 2, 2])
    c = np.arctan2(r[..., 1, 0], r[..., 1, 1])
    return a, b, c
