"""pvesim: a Proxmox VE API simulator (schema-exact validation, PVE's errors, tasks, faults).

    from pvesim import Simulator
    with Simulator(pve_version="9.1") as sim:
        print(sim.url)

Run standalone: python -m pvesim --help
"""

from pvesim.simulator import Simulator

__all__ = ["Simulator"]
