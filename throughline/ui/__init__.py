"""The dashboard shell the pages share: sign-in, the store, filters in the URL, drill-downs,
tables with exports, formatting, freshness and auto-refresh, and errors written for people.
No KPI logic: pages read through `metrics.views` and draw with these helpers (``ui.table``,
``ui.fmt``, …), re-exported here from the module that holds each concern:

- `shell`: the pages, the navigation by audience, the entry point and its chrome, drill-downs;
- `visitor`: who is visiting (sign-in, no-access and session-ended pages, audit of sign-ins);
- `data`: the engine, the settings the views need and the reporting clock, cached per URL;
- `loading`: a loader's failure as a sentence, the SLO board;
- `sidebar`: the shared filters, mirrored into the URL;
- `links`: page parameters in the URL (their values checked by `params`);
- `page`: the header and the live "data as of" line;
- `tables`: tables with CSV and Excel downloads, chart style and selections;
- `text`: formatting and escaping.
"""

from metrics.views.access import ANONYMOUS
from throughline.ui.data import AS_OF_TTL, TTL, as_of, check_store, config, db_url, engine
from throughline.ui.links import clear_param, hold, param, pick
from throughline.ui.loading import SLO_TTL, load, slo_board, slo_history
from throughline.ui.page import REFRESH_SECONDS, empty, header, version
from throughline.ui.shell import (
    NAVIGATION,
    PAGES,
    chrome,
    drill,
    ensure_entrypoint,
    entrypoint,
    navigation,
)
from throughline.ui.sidebar import FILTER_KEYS, filter_params, filters, sidebar_filters
from throughline.ui.tables import (
    MONEY_HINTS,
    PERCENT_HINTS,
    XLSX_MIME,
    chart_pick,
    downloads,
    layout,
    money,
    table,
    when,
)
from throughline.ui.text import ago, compact, fmt, safe
from throughline.ui.visitor import DEMO_NOTICE, OPEN_NOTICE, access, actor, gate, notice

__all__ = [
    "ANONYMOUS",
    "AS_OF_TTL",
    "DEMO_NOTICE",
    "FILTER_KEYS",
    "MONEY_HINTS",
    "NAVIGATION",
    "OPEN_NOTICE",
    "PAGES",
    "PERCENT_HINTS",
    "REFRESH_SECONDS",
    "SLO_TTL",
    "TTL",
    "XLSX_MIME",
    "access",
    "actor",
    "ago",
    "as_of",
    "chart_pick",
    "check_store",
    "chrome",
    "clear_param",
    "compact",
    "config",
    "db_url",
    "downloads",
    "drill",
    "empty",
    "engine",
    "ensure_entrypoint",
    "entrypoint",
    "filter_params",
    "filters",
    "fmt",
    "gate",
    "header",
    "hold",
    "layout",
    "load",
    "money",
    "navigation",
    "notice",
    "param",
    "pick",
    "safe",
    "sidebar_filters",
    "slo_board",
    "slo_history",
    "table",
    "version",
    "when",
]
