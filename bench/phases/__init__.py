"""The bench's phases, each run by `bench.run` in a fresh Python process (so that its peak
memory is its own): `ingest` (ingest, raw, append), `rebuild` (rebuild, duckdb), `page_draw`
(pages) and `profiling` (profile). Each takes the database, the number of deals and the command
line's options, and returns its figures as JSON-ready dicts."""
