"""SLOs in YAML: a strict subset of OpenSLO v1, plus one documented Throughline extension.

A file holds SLO documents: several YAML documents (``---``), or one document that is a list of
them. Each one::

    apiVersion: openslo/v1            # required, exactly this
    kind: SLO                         # required, exactly this
    metadata:
      name: project-setup-latency     # required; lowercase RFC 1123 label, unique in the file
      displayName: Won deals get a project within 2 business days   # optional
    spec:
      description: …                  # optional
      service: quote-to-cash          # required
      indicator:                      # Throughline: a KPI and a threshold (see below)
        kpi: setup_latency    # a name from the KPI registry
        threshold: {op: lte, value: 2, unit: business_days}   # optional
        weight: count                 # count (default) | value
      timeWindow:                     # exactly one
        - duration: 28d               # rolling: Nd or Nw (1–90 days), isRolling: true or omitted
          isRolling: true
      # or a calendar month:
      #   - duration: 1M
      #     calendar: {startTime: "2024-01-01 00:00:00", timeZone: Europe/Berlin}
      #     isRolling: false
      budgetingMethod: Occurrences    # the only method supported
      objectives:                     # exactly one
        - displayName: 95 % within 2 business days   # optional
          target: 0.95                # 0 < target < 1
      x-throughline:                  # optional: everything Throughline adds to OpenSLO
        grouping: [legal_entity]      # evaluate per value of these dimensions, and overall
        aging:                        # an aging budget in days, next to the one in cases
          budget: {value: 10, unit: business_days}   # allowed days past the limit per window
          limit: {value: 2, unit: business_days}     # optional, default: indicator.threshold
          weighted: false             # true: days × item weight (e.g. money-days)
        alerting:
          windows: {fast: page, medium: page, slow: ticket}   # row → page | ticket | none
          min_occurrences: 5          # occurrences the long window needs before it may fire
          scope: both                 # overall | groups | both (default: groups if grouping)

Where this departs from OpenSLO: ``indicator`` names a Throughline KPI instead of holding
metric queries (the KPI layer computes each case's value; OpenSLO's ``thresholdMetric`` with
``op``/``value`` on the objective is the closest equivalent), and everything else Throughline
adds lives under ``spec.x-throughline``. OpenSLO's ``Timeslices`` budgeting, ``alertPolicies``,
``indicatorRef``, labels and annotations are not supported and are refused like any unknown
field.

`load_slos` returns the SLOs or raises one `SloConfigError` listing *every* problem, each naming
the file, the field path and (when known) the line: ``slos.yaml: slos[2].spec.objectives[0]
.target: must be between 0 and 1 (line 14)``.

Modules: `model` (the document as pydantic models), `load` (reading and validating files),
`problems` (every problem as a sentence with its file, field path and line).
"""

from metrics.slo.spec.load import DEFAULTS_PATH, load_default_slos, load_slos, parse_slos
from metrics.slo.spec.model import (
    DEFAULT_KPI_NAMES,
    GROUP_DIMENSIONS,
    Aging,
    Alerting,
    DaysAmount,
    GroupDimension,
    Indicator,
    Limit,
    Objective,
    Slo,
    SloSpec,
    SloWindow,
    Threshold,
    TimeWindow,
)
from metrics.slo.spec.problems import SloConfigError

__all__ = [
    "DEFAULTS_PATH",
    "DEFAULT_KPI_NAMES",
    "GROUP_DIMENSIONS",
    "Aging",
    "Alerting",
    "DaysAmount",
    "GroupDimension",
    "Indicator",
    "Limit",
    "Objective",
    "Slo",
    "SloConfigError",
    "SloSpec",
    "SloWindow",
    "Threshold",
    "TimeWindow",
    "load_default_slos",
    "load_slos",
    "parse_slos",
]
