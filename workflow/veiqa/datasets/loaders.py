"""The loaders by name: ``LOADERS[name]`` reads one release's layout and score file (see :mod:`veiqa.datasets`)."""

from __future__ import annotations

from . import csiq, demo, kadid10k, live, siqad, tid2013
from ._common import Loader

LOADERS: dict[str, Loader] = {
    "live": live.LOADER,
    "csiq": csiq.LOADER,
    "tid2013": tid2013.LOADER,
    "siqad": siqad.LOADER,
    "kadid10k": kadid10k.LOADER,
    "demo": demo.LOADER,
}
