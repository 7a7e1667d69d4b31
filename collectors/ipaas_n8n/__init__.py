"""n8n executions → sync attempts, with error messages, the failing node and retry lineage.

API: n8n public API v1, https://docs.n8n.io/api/api-reference/ — ``GET /api/v1/executions
?includeData=true&limit=<≤250>&cursor=<nextCursor>`` → ``{"data": [...], "nextCursor": …}`` and
``GET /api/v1/workflows`` for the workflows' names; header ``X-N8N-API-KEY``.

Order: newest first, and the list has no time filter. So the stream polls by the highest
numeric execution id it has stored (ids are strings of digits), with an overlap: it pages from
the newest until a page holds nothing newer than that id minus ``overlap`` and saves the new
high-water id only when the walk completed (the cursor never moves back). The overlap re-reads
executions that were still running at the last poll; one that runs longer than ``overlap``
executions are started is read again only by a backfill. A backfill (``--since``) pages on
until the executions started before that time.

A retry is a new execution with ``mode: "retry"`` and ``retryOf`` (the execution it retries);
the retried one gets ``retrySuccessId`` only when a retry succeeds. The trace key of every attempt
is the first execution of its retry chain (or a configured ``customData`` member), its attempt
number the chain's length; the cursor keeps the lineage of recent retries so that chains that
span polls resolve, and retries whose parent is read later in the same walk are held back and
stored once, with the resolved lineage, at its end. With ``includeData`` the error is
``data.resultData.error`` (``message``; an HTTP node's upstream text in ``description`` and
status in ``httpCode``, a string) and the failing node ``data.resultData.lastNodeExecuted``. No
documented rate limit; 429/5xx are retried by the shared client.

A business record: a retry chain is one run of a workflow, but the record it carries (a customer,
a deal) may be sent again by a fresh run (a new webhook call after someone fixed the data).
``trace_key_path`` names where the record's key is in the execution, so that every run for it
shares one trace key and a later success resolves the earlier failures. A path starting with
``trigger`` reads the first item the workflow's trigger node put out (with ``includeData``:
``data.resultData.runData[<node>][0].data.main[0][0].json``, the trigger being the node that
ran first, by ``executionIndex``, else ``startTime``): ``trigger.body[0].customerId`` for a
webhook called with a JSON list.
"""

from __future__ import annotations

from collectors.base import Collector
from collectors.connector_options import OptionsSpec, url_variable
from collectors.http import ApiKeyHeaderAuth
from collectors.ipaas_n8n.config import MAX_LIMIT, SYSTEM, N8nConfig, api_root
from collectors.ipaas_n8n.executions import ExecutionStream, collector
from collectors.ipaas_n8n.mapping import map_execution, trigger_item
from collectors.spec import ConnectorSpec, Context

__all__ = [
    "MAX_LIMIT",
    "SPEC",
    "SYSTEM",
    "ExecutionStream",
    "N8nConfig",
    "api_root",
    "collector",
    "map_execution",
    "trigger_item",
]


def _build(c: Context) -> Collector:
    config = c.config(base_url=c.base_url())
    credentials = c.credentials(["n8n_api_key"], lambda key: ApiKeyHeaderAuth("X-N8N-API-KEY", key))
    return collector(c.name, config, credentials, transport=c.transport)


SPEC = ConnectorSpec(
    name="n8n",
    kind="connector",
    description="n8n executions (public API)",
    build=_build,
    streams=("executions",),
    options=OptionsSpec(N8nConfig, url_variable("n8n")),
    secrets=("n8n_api_key",),
    fixtures="tests/fixtures/http/n8n",
)
