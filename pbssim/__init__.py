"""pbssim: a Proxmox Backup Server API simulator on simcore (see README.md)."""

from pbssim.simulator import PbsSimulator

__all__ = ["PbsSimulator"]
