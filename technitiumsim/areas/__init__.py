"""The areas of the simulated Technitium API (one module each); TechnitiumArea is their base."""

from simcore import Area


class TechnitiumArea(Area):
    """An area of the Technitium HTTP API: handlers take a TechnitiumRequest and return the
    `response` object of the answer, or raise technitiumsim.errors.TechnitiumError."""
