"""cfsim: a Cloudflare API simulator on simcore (see README.md)."""

from cfsim.simulator import CfSimulator

__all__ = ["CfSimulator"]
