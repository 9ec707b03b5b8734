"""nettwin: a network twin of the simulated cluster, built from pvesim's state in Linux network namespaces.

`python -m nettwin up|down|status|l2-check|frr-check` (README.md says what is real and what is emulated).
"""

TWIN_FILE = "twin.json"
NAME_PREFIX = "hctw-"
