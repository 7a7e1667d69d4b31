"""The KPIs: each module reads its rows with a loader (set-shaped SQL over the case facts, bound
parameters), computes its result with a pure function of those rows and `as_of` (no clock,
database or Streamlit inside), and ends with its declaration, ``KPI = Kpi(...)``
(`metrics.kpis.declaration`), which `metrics.registry` lists.

- `setup_latency`: `load_handoffs` + `setup_latency` → `SetupLatency`
- `invoice_cycle`: `load_invoices` + `invoice_cycle` → `InvoiceCycle`
- `unbilled`: `load_work_items` (`unbilled_rows`) + `unbilled_aging` / `wip_daily` → `UnbilledAging`
- `sync_trends`: `load_sync` (`sync_rows`) + `sync_error_trends` → `SyncErrorTrends`
- `cash_impact`: `cash_impact(SetupLatency, InvoiceCycle, UnbilledAging)` → `CashImpact`

The exact definitions are in docs/kpis.md.
"""
