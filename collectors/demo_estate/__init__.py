"""The demo estate: a deterministic simulated professional-services firm served over local HTTP.

::

    estate = simulate(seed=7)                      # a year of history plus a 3-month horizon
    with DemoEstateServer(estate, token="t") as server:
        server.base_url                            # CRM instance URL: base_url + "/crm"
        ground_truth(estate, estate.history_end)   # what the collectors must end up with

Or standalone: ``python -m collectors.demo_estate --port 8765 --token X [--live --speed 3600]``.
URLs, paging, formats, error shapes and test hooks: ``README.md`` here and the docstrings of
``apis/crm.py``, ``apis/psa.py``, ``apis/erp.py`` and ``apis/ipaas.py``.
"""

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.model import REMOVED, Estate, Record, Version
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate
from collectors.demo_estate.truth import MAPPINGS, GroundTruth, ground_truth

__all__ = [
    "MAPPINGS",
    "REMOVED",
    "DemoEstateServer",
    "Estate",
    "GroundTruth",
    "Record",
    "SimClock",
    "Version",
    "ground_truth",
    "simulate",
]
