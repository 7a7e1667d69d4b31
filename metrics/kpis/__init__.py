"""The KPIs: each is a loader (set-shaped SQL over the case facts, bound parameters) and a pure
function of its rows and `as_of` (no clock, database or Streamlit inside).

- `setup_latency`: `load_handoffs` + `setup_latency` → `SetupLatency`
- `invoice_cycle`: `load_invoices` + `invoice_cycle` → `InvoiceCycle`
- `unbilled`: `load_work_items` + `unbilled_aging` / `wip_over_time` → `UnbilledAging`
- `sync_trends`: `load_sync` + `sync_error_trends` → `SyncErrorTrends`
- `cash_impact`: `cash_impact(SetupLatency, InvoiceCycle, UnbilledAging)` → `CashImpact`

`metrics.registry.KPIS` lists every figure with its unit, audience and definition.
"""
