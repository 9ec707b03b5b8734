"""The simulator's self-signed certificate: simcore.certs (kept importable from here)."""

from simcore.certs import generate

__all__ = ["generate"]
