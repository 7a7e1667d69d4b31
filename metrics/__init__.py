"""Throughline's store and KPIs: the canonical event log, its write path, and the metrics on it."""
