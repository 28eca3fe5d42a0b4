"""A force-directed layout (Fruchterman-Reingold) for the profile graph, computed on the server.

The image installs only requirements.txt, which has numpy but not networkx, so the few lines of the
algorithm live here. Deterministic: the start positions come from a fixed seed and the nodes arrive in a
fixed order, so one profile is always drawn the same way (on-call can compare two screenshots)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SEED = 7
ITERATIONS = 60
# Rows of the pairwise repulsion computed at once: bounds the memory of one step (CHUNK x n floats), and
# small blocks stay in the CPU's cache (4x faster than one n x n step at 2,000 nodes).
CHUNK = 128
# A pull towards the centre, so a node with no links (an id added by orders only) stays in the picture.
GRAVITY = 0.05


def spring_layout(n: int, edges: Sequence[tuple[int, int]], seed: int = SEED,
                  iterations: int = ITERATIONS) -> list[tuple[float, float]]:
    """Positions in the unit square for nodes 0..n-1 joined by edges (pairs of node indexes)."""
    if n == 0:
        return []
    if n == 1:
        return [(0.5, 0.5)]
    pos = np.random.default_rng(seed).random((n, 2))
    k = 1 / math.sqrt(n)  # the ideal distance between two nodes
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    start_temp = 0.1
    for step in range(iterations):
        disp = _repulsion(pos, k) + _attraction(pos, pairs, k)
        disp -= GRAVITY * (pos - 0.5) * n * k
        # each node moves at most the temperature, which cools to 0: the layout settles
        temp = start_temp * (1 - step / iterations)
        length = np.maximum(np.hypot(disp[:, 0], disp[:, 1]), 1e-9)
        pos += disp * (np.minimum(length, temp) / length)[:, None]
    return _fit(pos)


def _repulsion(pos: np.ndarray, k: float) -> np.ndarray:
    """Every pair pushes apart with force k^2 / distance: along (p_i - p_j) / d^2 per pair, summed as
    p_i * sum_j w_ij - sum_j w_ij p_j with w_ij = k^2 / d_ij^2, so the large steps are matrix products."""
    squares = (pos * pos).sum(axis=1)
    disp = np.empty_like(pos)
    for start in range(0, len(pos), CHUNK):
        block = pos[start:start + CHUNK]
        dist2 = block @ pos.T
        dist2 *= -2
        dist2 += squares[start:start + CHUNK, None]
        dist2 += squares[None, :]
        np.maximum(dist2, 1e-6, out=dist2)  # two nodes on one spot: a strong push, not a division by 0
        weights = np.divide(k * k, dist2, out=dist2)
        rows = np.arange(len(block))
        weights[rows, start + rows] = 0  # a node does not push itself
        disp[start:start + CHUNK] = block * weights.sum(axis=1)[:, None] - weights @ pos
    return disp


def _attraction(pos: np.ndarray, pairs: np.ndarray, k: float) -> np.ndarray:
    """Linked nodes pull together with force distance^2 / k."""
    disp = np.zeros_like(pos)
    if len(pairs):
        delta = pos[pairs[:, 0]] - pos[pairs[:, 1]]
        force = delta * (np.hypot(delta[:, 0], delta[:, 1]) / k)[:, None]
        np.subtract.at(disp, pairs[:, 0], force)
        np.add.at(disp, pairs[:, 1], force)
    return disp


def _fit(pos: np.ndarray) -> list[tuple[float, float]]:
    """Scaled into the unit square, keeping the aspect ratio."""
    low = pos.min(axis=0)
    span = float(max((pos.max(axis=0) - low).max(), 1e-9))
    scaled = (pos - low) / span
    scaled += (1 - scaled.max(axis=0)) / 2  # centre the shorter side
    return [(float(x), float(y)) for x, y in scaled]
