"""Fixtures for the resilience tests: the demo estate and its APIs, shared with the collector
tests."""

from __future__ import annotations

from tests.collectors.conftest import demo_server, estate

__all__ = ["demo_server", "estate"]
