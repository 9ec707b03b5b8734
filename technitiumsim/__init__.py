"""technitiumsim: a Technitium DNS Server simulator (HTTP API and DNS) on simcore (see README.md)."""

from technitiumsim.simulator import TechnitiumSimulator

__all__ = ["TechnitiumSimulator"]
