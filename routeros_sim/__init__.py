"""RouterOS API server simulator (standard library only).

Speaks the MikroTik API wire protocol well enough for librouteros 4.2.2 and
routeros-api 0.21.0; see README.md for what is modelled and CONTRACT.md for
the Python API.
"""

from .errors import SimError
from .router import Fleet, RouterSim

__all__ = ["RouterSim", "Fleet", "SimError"]
