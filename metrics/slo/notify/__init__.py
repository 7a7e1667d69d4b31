"""Webhook notifications for alert episodes: Slack, Microsoft Teams and plain JSON.

- `message` — an episode's firing or resolved event as plain text (title, summary, facts).
- `payloads` — that message rendered per channel (the JSON schema is documented there).
- `webhooks` — delivery: one POST per message through the shared retrying transport, with the
  webhook URL (a secret) masked everywhere.
- `dispatch` — what is due is sent in order per episode and target; a delivery that failed is
  sent again by the next evaluation without opening a new episode, until ``give_up_after`` has
  passed since it was queued (then it is marked expired).
"""

from metrics.slo.notify.dispatch import DispatchReport, dispatch, process
from metrics.slo.notify.message import AlertMessage, message_for
from metrics.slo.notify.payloads import (
    JSON_SCHEMA,
    PAYLOAD_BUILDERS,
    PayloadFormat,
    json_payload,
    slack_escape,
    slack_payload,
    teams_payload,
)
from metrics.slo.notify.webhooks import (
    DEFAULT_NOTIFY_RETRY,
    DEFAULT_NOTIFY_TIMEOUT,
    Notifier,
    WebhookNotifier,
    WebhookTarget,
    mask_webhook_url,
)

__all__ = [
    "DEFAULT_NOTIFY_RETRY",
    "DEFAULT_NOTIFY_TIMEOUT",
    "JSON_SCHEMA",
    "PAYLOAD_BUILDERS",
    "AlertMessage",
    "DispatchReport",
    "Notifier",
    "PayloadFormat",
    "WebhookNotifier",
    "WebhookTarget",
    "dispatch",
    "json_payload",
    "mask_webhook_url",
    "message_for",
    "process",
    "slack_escape",
    "slack_payload",
    "teams_payload",
]
