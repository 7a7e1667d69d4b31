"""The shared HTTP client: retries, Retry-After, auth, error mapping and redaction."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from collectors.errors import AuthFailed, RequestRejected, SchemaDrift, SourceUnavailable
from collectors.http import (
    ApiKeyHeaderAuth,
    BearerAuth,
    RetryPolicy,
    json_body,
    make_client,
    parse_retry_after,
    raise_for_source_status,
    redact_url,
)

BASE = "https://api.example.test"
Step = httpx.Response | Exception


class FakeApi:
    """Serves scripted responses (or raises scripted errors) in order and records requests."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step

    def client(self, **kwargs: object) -> tuple[httpx.Client, list[float]]:
        sleeps: list[float] = []
        options: dict[str, object] = {"sleep": sleeps.append, "rng": random.Random(7)}
        options.update(kwargs)
        auth = options.pop("auth", None)
        client = make_client(BASE, auth, transport=httpx.MockTransport(self), **options)  # type: ignore[arg-type]
        return client, sleeps


def ok(payload: object = None) -> httpx.Response:
    return httpx.Response(200, json={"ok": True} if payload is None else payload)


def test_429_with_retry_after_seconds_is_retried_after_the_given_delay() -> None:
    api = FakeApi(httpx.Response(429, headers={"Retry-After": "7"}), ok())
    client, sleeps = api.client()
    with client:
        response = client.get("/deals")
    assert response.status_code == 200
    assert sleeps == [7.0]
    assert len(api.requests) == 2


def test_429_with_retry_after_http_date_waits_until_that_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    header = email.utils.format_datetime(when, usegmt=True)
    api = FakeApi(httpx.Response(429, headers={"Retry-After": header}), ok())
    client, sleeps = api.client()
    with client:
        assert client.get("/deals").status_code == 200
    assert len(sleeps) == 1
    assert 27.0 < sleeps[0] <= 30.0


def test_503_then_success_is_retried_after_a_backoff_within_the_policy() -> None:
    api = FakeApi(httpx.Response(503), ok())
    policy = RetryPolicy(base_delay=0.25)
    client, sleeps = api.client(retry=policy)
    with client:
        assert client.get("/deals").json() == {"ok": True}
    assert len(sleeps) == 1
    assert 0.0 <= sleeps[0] <= 0.25


def test_connect_error_then_success_is_retried() -> None:
    api = FakeApi(httpx.ConnectError("connection refused"), ok())
    client, sleeps = api.client()
    with client:
        assert client.get("/deals").status_code == 200
    assert len(api.requests) == 2
    assert len(sleeps) == 1


class _BrokenStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b'{"records": ['
        raise httpx.ReadError("connection reset by peer")


def test_a_body_cut_off_half_way_is_retried() -> None:
    api = FakeApi(httpx.Response(200, stream=_BrokenStream()), ok({"records": []}))
    client, _ = api.client()
    with client:
        assert client.get("/deals").json() == {"records": []}
    assert len(api.requests) == 2


@pytest.fixture
def slow_first_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 that stalls its first answer until the test ends."""
    release = threading.Event()
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            if len(paths) == 1:
                release.wait(5)
            body = b'{"ok": true}'
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up on this request long ago

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = False  # so server_close() joins the handler threads

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", paths
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def test_read_timeout_against_a_real_server_is_retried_then_succeeds(
    slow_first_server: tuple[str, list[str]],
) -> None:
    url, paths = slow_first_server
    sleeps: list[float] = []
    with make_client(url, None, timeout=0.3, sleep=sleeps.append) as client:
        response = client.get("/deals", params={"page": "1"})
    assert response.json() == {"ok": True}
    assert response.elapsed.total_seconds() >= 0
    assert paths == ["/deals?page=1", "/deals?page=1"]
    assert len(sleeps) == 1


def test_exhausted_retries_on_503_raise_source_unavailable_with_the_attempt_count() -> None:
    api = FakeApi(httpx.Response(503))
    client, sleeps = api.client(retry=RetryPolicy(max_attempts=3))
    with client:
        response = client.get("/deals")
    assert response.status_code == 503
    with pytest.raises(SourceUnavailable, match="HTTP 503 after 3 attempts") as caught:
        raise_for_source_status(response)
    assert caught.value.attempts == 3
    assert len(api.requests) == 3
    assert len(sleeps) == 2


def test_exhausted_transport_errors_raise_source_unavailable_with_the_attempt_count() -> None:
    api = FakeApi(httpx.ConnectTimeout("timed out"))
    client, _ = api.client(retry=RetryPolicy(max_attempts=4))
    with client, pytest.raises(SourceUnavailable, match="failed after 4 attempts: ConnectTimeout"):
        client.get("/deals")
    assert len(api.requests) == 4


def test_retry_after_longer_than_the_cap_raises_source_unavailable_at_once() -> None:
    api = FakeApi(httpx.Response(429, headers={"Retry-After": "3600"}), ok())
    client, sleeps = api.client(retry=RetryPolicy(max_retry_after=60))
    with client, pytest.raises(SourceUnavailable, match="asked us to wait 3600 s") as caught:
        client.get("/deals")
    assert caught.value.retry_after == 3600.0
    assert len(api.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_raise_auth_failed_and_are_not_retried(status: int) -> None:
    api = FakeApi(httpx.Response(status, json={"error": "invalid_token"}), ok())
    client, sleeps = api.client(auth=BearerAuth("s3cr3t-token"))
    with client:
        response = client.get("/deals", params={"access_token": "s3cr3t-token"})
    with pytest.raises(AuthFailed, match=f"HTTP {status}") as caught:
        raise_for_source_status(response)
    assert len(api.requests) == 1
    assert sleeps == []
    assert "s3cr3t-token" not in str(caught.value)


def test_other_4xx_raise_request_rejected_with_status_and_a_short_masked_excerpt() -> None:
    body = '{"error": "bad field", "token": "s3cr3t-token", "detail": "' + "x" * 500 + '"}'
    api = FakeApi(httpx.Response(422, text=body), ok())
    client, _ = api.client()
    with client:
        response = client.post("/query", json={"q": "SELECT 1"})
    with pytest.raises(RequestRejected, match="HTTP 422") as caught:
        raise_for_source_status(response)
    assert caught.value.status == 422
    assert caught.value.excerpt.startswith('{"error": "bad field"')
    assert len(caught.value.excerpt) <= 200
    assert "s3cr3t-token" not in str(caught.value)
    assert len(api.requests) == 1


def test_success_statuses_do_not_raise() -> None:
    api = FakeApi(httpx.Response(204))
    client, _ = api.client()
    with client:
        raise_for_source_status(client.get("/ping"))


def test_bearer_auth_refreshes_once_on_401_then_succeeds_and_keeps_the_new_token() -> None:
    seen: list[str] = []
    refreshes: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return ok() if request.headers["Authorization"] == "Bearer fresh" else httpx.Response(401)

    def refresh() -> str:
        refreshes.append("fresh")
        return "fresh"

    auth = BearerAuth("stale", refresh=refresh)
    with make_client(BASE, auth, transport=httpx.MockTransport(handler)) as client:
        assert client.get("/deals").status_code == 200
        assert client.get("/deals").status_code == 200
    assert seen == ["Bearer stale", "Bearer fresh", "Bearer fresh"]
    assert refreshes == ["fresh"]


def test_bearer_auth_refreshes_only_once_when_the_new_token_is_refused_too() -> None:
    api = FakeApi(httpx.Response(401))
    calls: list[str] = []

    def refresh() -> str:
        calls.append("also-bad")
        return "also-bad"

    auth = BearerAuth("stale", refresh=refresh)
    client, _ = api.client(auth=auth)
    with client:
        response = client.get("/deals")
    with pytest.raises(AuthFailed):
        raise_for_source_status(response)
    assert len(api.requests) == 2
    assert calls == ["also-bad"]


def test_bearer_auth_without_refresh_does_not_resend_on_401() -> None:
    api = FakeApi(httpx.Response(401))
    client, _ = api.client(auth=BearerAuth("token"))
    with client:
        assert client.get("/deals").status_code == 401
    assert len(api.requests) == 1


def test_bearer_auth_consults_a_token_callable_before_each_request_with_its_scheme() -> None:
    tokens = iter(["one", "two"])
    api = FakeApi(ok())
    client, _ = api.client(auth=BearerAuth(lambda: next(tokens), scheme="Session"))
    with client:
        client.get("/a")
        client.get("/b")
    assert [r.headers["Authorization"] for r in api.requests] == ["Session one", "Session two"]


def test_api_key_header_auth_sends_the_key_and_hides_it_from_repr() -> None:
    api = FakeApi(ok())
    auth = ApiKeyHeaderAuth("X-N8N-API-KEY", "n8n-key-123")
    client, _ = api.client(auth=auth)
    with client:
        client.get("/api/v1/executions")
    assert api.requests[0].headers["X-N8N-API-KEY"] == "n8n-key-123"
    assert "n8n-key-123" not in repr(auth)
    assert "tk-secret" not in repr(BearerAuth("tk-secret"))


def test_post_json_body_is_resent_identically_on_retry() -> None:
    api = FakeApi(httpx.Response(502), httpx.ReadTimeout("slow"), ok())
    client, _ = api.client()
    query = {"q": "SELECT id FROM transaction WHERE lastmodifieddate > '2024-01-01'"}
    with client:
        assert client.post("/suiteql", json=query).status_code == 200
    bodies = [r.content for r in api.requests]
    assert len(bodies) == 3
    assert len(set(bodies)) == 1
    assert json.loads(bodies[0]) == query
    assert all(r.method == "POST" for r in api.requests)


def test_streamed_post_body_is_resent_identically_on_retry() -> None:
    api = FakeApi(httpx.Response(500), ok())
    client, _ = api.client()
    with client:
        assert client.post(
            "/rpc", content=iter([b'{"method": ', b'"model.sale.search"}'])
        ).is_success
    assert [r.content for r in api.requests] == [b'{"method": "model.sale.search"}'] * 2


def test_full_jitter_delays_stay_within_the_policy_bounds() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for retry in range(1, 9):
        ceiling = min(4.0, 0.5 * 2 ** (retry - 1))
        delays = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range
        assert min(delays) < ceiling * 0.2
    assert RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=False).backoff(3, rng) == 2.0


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.test/a?token=abc&page=2", "https://x.test/a?token=***&page=2"),
        (
            "https://x.test/a?access_token=a&api_key=b&apikey=c&key=d&password=e",
            "https://x.test/a?access_token=***&api_key=***&apikey=***&key=***&password=***",
        ),
        (
            "https://x.test/cb?code=c&state=s&secret=x&signature=y&sig=z&client_secret=w",
            "https://x.test/cb?code=***&state=s&secret=***&signature=***&sig=***&client_secret=***",
        ),
        ("https://x.test/a?API_KEY=b&Token=c", "https://x.test/a?API_KEY=***&Token=***"),
        ("https://user:pw@x.test/a", "https://***@x.test/a"),
        ("https://x.test/a?q=SELECT+Id&limit=5", "https://x.test/a?q=SELECT+Id&limit=5"),
        (
            "https://x.test/cb#access_token=abc&type=bearer",
            "https://x.test/cb#access_token=***&type=bearer",
        ),
        ("/relative?key=1", "/relative?key=***"),
    ],
)
def test_redact_url_masks_secret_query_values_and_user_info(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact_url(httpx.URL(url)) == redact_url(str(httpx.URL(url)))


def test_requests_and_retries_are_logged_with_redacted_urls_and_no_headers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = FakeApi(httpx.Response(503), ok())
    client, _ = api.client(auth=BearerAuth("header-secret"))
    with caplog.at_level(logging.DEBUG, logger="throughline.http"), client:
        client.get("/deals", params={"api_key": "query-secret", "page": "3"})
    levels = [r.levelno for r in caplog.records]
    assert levels.count(logging.DEBUG) == 2
    assert levels.count(logging.WARNING) == 1
    assert "api_key=***&page=3" in caplog.text
    assert "HTTP 503" in caplog.text
    assert "query-secret" not in caplog.text
    assert "header-secret" not in caplog.text


def test_non_json_body_raises_schema_drift_naming_the_redacted_url() -> None:
    api = FakeApi(
        httpx.Response(200, text="<html>Sign in</html>", headers={"Content-Type": "text/html"})
    )
    client, _ = api.client()
    with client:
        response = client.get("/deals", params={"token": "abc"})
    with pytest.raises(
        SchemaDrift, match=r"GET https://api\.example\.test/deals\?token=\*\*\*"
    ) as e:
        json_body(response)
    assert "text/html" in str(e.value)
    assert "<html>Sign in</html>" in str(e.value)


def test_json_body_returns_the_parsed_payload() -> None:
    api = FakeApi(ok({"records": [1, 2]}))
    client, _ = api.client()
    with client:
        assert json_body(client.get("/deals")) == {"records": [1, 2]}


def test_client_has_explicit_timeouts_user_agent_and_base_url() -> None:
    api = FakeApi(ok())
    client, _ = api.client()
    with client:
        client.get("deals")
    assert client.timeout.connect == 5.0
    assert client.timeout.read == 30.0
    request = api.requests[0]
    assert request.headers["User-Agent"].startswith("throughline/")
    assert str(request.url) == f"{BASE}/deals"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("-5", None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(value: str, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_measures_an_http_date_from_now() -> None:
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:45 GMT", now=now) == 45.0


def test_make_client_refuses_a_proxy_with_an_explicit_transport() -> None:
    transport: Callable[[httpx.Request], httpx.Response] = lambda r: ok()  # noqa: E731
    with pytest.raises(ValueError):
        make_client(BASE, None, transport=httpx.MockTransport(transport), proxy="http://p:3128")
