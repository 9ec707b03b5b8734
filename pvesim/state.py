"""Simulated cluster state: simcore.state (kept importable from here).

One JSON namespace per area, saved as one document; handlers run under `State.lock`, so they
are serialised like pmxcfs-locked PVE writes.
"""

from simcore.state import STATE_FORMAT, State

__all__ = ["STATE_FORMAT", "State"]
