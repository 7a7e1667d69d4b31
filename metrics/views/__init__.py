"""Page-facing functions: each composes the KPI loaders and pure functions for one page.

A page reads its widgets, calls one function here (cached with ``st.cache_data``) and draws
what it returns. Nothing here imports Streamlit; every function takes the engine, a
`ViewConfig` (the settings a view needs, hashable), the `Filters` and ``as_of`` explicitly.

- `common` — `ViewConfig`, `reporting_time` (the sources' clock), `freshness`, `dimensions`,
  `period_filters`.
- `overview` — `board`: a tile per KPI, SLO budgets, cash impact, biggest delays.
- `invoices` — `invoice_view` and `invoices_in_week`.
- `handoffs` — `handoff_view` (latency and the PMO work queue) and `record_action`.
- `unbilled` — `unbilled_view` (buckets by customer, project or practice; WIP over time).
- `sync` — `sync_view`, `failed_attempts`, `attempt_lineage`.
- `trace` — `find_cases`, `case_trace` (one case end to end, with deep links).
- `slos` — the SLO board, burn history and alert history, sorted for the page.
- `admin` — `collectors_view` (health, lag, quarantine) and the "run now" requests.
- `export` — tables as CSV and Excel bytes.
"""
