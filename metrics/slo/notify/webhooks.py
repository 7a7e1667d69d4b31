"""Delivering alert messages to webhooks.

One POST per delivery through the shared retrying transport (`foundation.http.RetryTransport`):
connection errors, timeouts, 429 and 5xx are retried with capped exponential backoff and full
jitter, honouring ``Retry-After``. A delivery that still fails is reported as failed; the
dispatcher (`metrics.slo.notify.dispatch`) sends it again on the next evaluation.

Webhook URLs are secrets (the path is the credential): they are never logged or put in errors;
`mask_webhook_url` keeps only the scheme and host, and the transport logs and words its errors
with that mask. Requests go straight to the transport rather than through ``httpx.Client``,
whose INFO log line would print the full URL.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from foundation.http import RetryTransport, Unavailable, attempts_of, describe_error, excerpt, scrub
from foundation.retry import USER_AGENT, RetryPolicy
from metrics.slo.alerts import DeliveryOutcome
from metrics.slo.notify.message import AlertMessage
from metrics.slo.notify.payloads import PAYLOAD_BUILDERS, PayloadFormat

logger = logging.getLogger("throughline.slo.notify")

DEFAULT_NOTIFY_RETRY = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=15.0)
DEFAULT_NOTIFY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def mask_webhook_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/XYZ`` → ``https://hooks.slack.com/***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    host = parts.hostname or ""
    if not parts.scheme or not host:
        return "***"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/***"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A named receiver: its URL (a secret, never shown) and which payload it takes."""

    name: str
    url: str = field(repr=False)
    format: PayloadFormat = "json"

    def __repr__(self) -> str:
        return f"WebhookTarget(name={self.name!r}, url={self.masked_url!r}, format={self.format!r})"

    @property
    def masked_url(self) -> str:
        return mask_webhook_url(self.url)


class Notifier(Protocol):
    """Sends one message to one named target."""

    @property
    def target_names(self) -> tuple[str, ...]: ...

    def send(self, target: str, message: AlertMessage) -> DeliveryOutcome: ...


class WebhookNotifier:
    """POSTs messages to webhook targets, retrying transient failures (see the module doc).

    ``transport`` is the test seam (default: a real ``httpx.HTTPTransport``); ``sleep`` and
    ``rng`` make the backoff instant and deterministic in tests.
    """

    def __init__(
        self,
        targets: Sequence[WebhookTarget],
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_NOTIFY_RETRY,
        timeout: httpx.Timeout = DEFAULT_NOTIFY_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        proxy: str | None = None,
    ) -> None:
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise ValueError("webhook target names must be unique")
        self._targets = {t.name: t for t in targets}
        inner = transport if transport is not None else httpx.HTTPTransport(proxy=proxy)
        self._transport = RetryTransport(inner, retry, sleep=sleep, rng=rng, mask=mask_webhook_url)
        self._timeout = timeout

    def __enter__(self) -> WebhookNotifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(self._targets)

    def send(self, target: str, message: AlertMessage) -> DeliveryOutcome:
        """POST ``message`` to ``target`` in its format; never raises for delivery problems."""
        hook = self._targets.get(target)
        if hook is None:
            return DeliveryOutcome(ok=False, attempts=0, error=f"unknown target {target!r}")
        body = json.dumps(PAYLOAD_BUILDERS[hook.format](message), ensure_ascii=False).encode()
        where = f"{hook.name} ({hook.masked_url})"
        try:
            response = self._transport.handle_request(self._request(hook, body))
        except httpx.InvalidURL:
            return DeliveryOutcome(False, 1, None, f"{where}: the webhook URL is invalid")
        except httpx.UnsupportedProtocol:
            return DeliveryOutcome(False, 1, None, f"{where}: the webhook URL must be http(s)")
        except Unavailable as exc:  # its message is worded with the masked URL
            outcome = DeliveryOutcome(False, exc.attempts or 1, exc.status, f"{hook.name}: {exc}")
        except httpx.TransportError as exc:  # one the policy does not retry
            error = scrub(describe_error(exc), hook.url, mask_webhook_url)
            outcome = DeliveryOutcome(False, 1, None, f"{where}: {error}")
        else:
            status, attempts = response.status_code, attempts_of(response) or 1
            if 200 <= status < 300:
                logger.info("%s: sent %s of %s", where, message.state, message.alert_key)
                return DeliveryOutcome(True, attempts, status)
            text = f"HTTP {status}: {excerpt(response) or '(empty body)'}"
            error = scrub(text, hook.url, mask_webhook_url)
            outcome = DeliveryOutcome(False, attempts, status, f"{where}: {error}")
        logger.warning("%s: delivery of %s failed: %s", where, message.alert_key, outcome.error)
        return outcome

    def _request(self, hook: WebhookTarget, body: bytes) -> httpx.Request:
        return httpx.Request(
            "POST",
            hook.url,
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Accept": "*/*",
            },
            extensions={"timeout": self._timeout.as_dict()},
        )
