"""The simulated PBS API, one module an area (discovered by pbssim.simulator)."""
