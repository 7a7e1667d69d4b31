"""Fake vendor APIs serving the recorded fixtures under `tests/fixtures/http/<source>/`.

Each fake is a small router for `httpx.MockTransport`: it checks credentials the way the vendor
does (a bearer token it issued, a private-app token, an OAuth 1.0a signature it recomputes, an
API key header), filters the fixture records by the request's cursor filter, cuts them into small
pages linked the vendor's way, and logs `(path, status)` of every API request. `inject(429)`
makes the next API request answer 429 with `Retry-After: 1`; `reject_all` answers 401 to every
API request (the credentials were revoked).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from collectors.auth import hmac_sha256_signature, signature_base_string
from collectors.demo_estate.apis.suiteql import format_model, select_items

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "http"


def fixture(source: str, name: str) -> Any:
    """A recorded response, parsed."""
    return json.loads((FIXTURES / source / name).read_text(encoding="utf-8"))


def _time(value: str) -> datetime:
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


class FakeApi:
    """Routing, credential checks, injected failures and the request log, shared by the fakes."""

    api_prefix = "/"

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.injected: list[int] = []
        self.reject_all = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def inject(self, status: int, count: int = 1) -> None:
        self.injected.extend([status] * count)

    def statuses(self) -> list[int]:
        return [status for path, status in self.log if path.startswith(self.api_prefix)]

    def handle(self, request: httpx.Request) -> httpx.Response:
        special = self.special(request)
        if special is not None:
            return special
        if self.injected:
            status = self.injected.pop(0)
            response = httpx.Response(
                status, headers={"Retry-After": "1"}, json={"message": "slow down"}
            )
        elif self.reject_all or not self.authorized(request):
            response = self.unauthorized()
        else:
            response = self.route(request)
        self.log.append((request.url.path, response.status_code))
        return response

    def special(self, request: httpx.Request) -> httpx.Response | None:
        """Requests outside the API (a token endpoint); None for API requests."""
        return None

    def authorized(self, request: httpx.Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> httpx.Response:
        return httpx.Response(401, json={"message": "Authentication credentials not valid"})

    def route(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError


# --- Salesforce ---------------------------------------------------------------------------------

SF_FIXTURES = {
    "Account": "query_accounts.json",
    "Opportunity": "query_opportunities.json",
    "OpportunityFieldHistory": "query_stage_history.json",
    "Contract": "query_contracts.json",
}


class FakeSalesforce(FakeApi):
    """An org behind OAuth 2.0: client credentials or a JWT bearer assertion checked with
    ``public_key`` (PEM); SOQL queries paged by ``nextRecordsUrl``."""

    api_prefix = "/services/data/"
    PAGE = 2

    def __init__(
        self,
        client_id: str = "3MVG9-test-consumer-key",
        client_secret: str = "cs-test-secret",
        public_key: str | None = None,
        username: str = "integration@example.com",
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.public_key, self.username = public_key, username
        self.issued: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.expire_next_token_use = False

    def special(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/services/oauth2/token":
            return None
        form = dict(parse_qsl(request.content.decode()))
        self.token_requests.append(form)
        ok = False
        if form.get("grant_type") == "client_credentials":
            ok = (form.get("client_id"), form.get("client_secret")) == (
                self.client_id,
                self.client_secret,
            )
            body = fixture("salesforce", "token_client_credentials.json")
        elif form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = self._valid_assertion(form.get("assertion", ""))
            body = fixture("salesforce", "token_jwt_bearer.json")
        if not ok:
            return httpx.Response(400, json=fixture("salesforce", "token_error.json"))
        token = f"{body['access_token']}.{len(self.issued) + 1}"
        self.issued.append(token)
        return httpx.Response(200, json={**body, "access_token": token})

    def _valid_assertion(self, assertion: str) -> bool:
        import jwt

        if self.public_key is None:
            return False
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience="https://login.salesforce.com",
            )
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == self.client_id and claims.get("sub") == self.username

    def authorized(self, request: httpx.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.issued:
            return False
        if self.expire_next_token_use:  # the session expired: this token is no longer valid
            self.expire_next_token_use = False
            self.issued.remove(token)
            return False
        return True

    def unauthorized(self) -> httpx.Response:
        return httpx.Response(
            401, json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        )

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        more = re.fullmatch(r"/services/data/v[\d.]+/query/(\w+)-(\d+)", path)
        if more:
            return self._page(more.group(1), int(more.group(2)), path.rsplit("/", 1)[0])
        if re.fullmatch(r"/services/data/v[\d.]+/query", path):
            return self._query(request.url.params["q"], path)
        return httpx.Response(404, json=[{"errorCode": "NOT_FOUND", "message": path}])

    def _query(self, soql: str, path: str) -> httpx.Response:
        sobject = re.search(r"\bFROM (\w+)", soql)
        name = SF_FIXTURES.get(sobject.group(1)) if sobject else None
        if name is None:
            return httpx.Response(400, json=[{"errorCode": "INVALID_TYPE", "message": soql[:80]}])
        records = fixture("salesforce", name)["records"]
        since = re.search(r"WHERE (\w+) >= (\S+)", soql)
        order = re.search(r"ORDER BY (\w+)", soql)
        if since:
            records = [r for r in records if _time(r[since.group(1)]) >= _time(since.group(2))]
        if order:
            records.sort(key=lambda r: (_time(r[order.group(1)]), r["Id"]))
        locator = f"01gFAKE{len(self.cursors):08d}"
        self.cursors[locator] = records
        return self._page(locator, 0, path)

    def _page(self, locator: str, start: int, path: str) -> httpx.Response:
        records = self.cursors[locator]
        page = records[start : start + self.PAGE]
        body: dict[str, Any] = {
            "totalSize": len(records),
            "done": start + self.PAGE >= len(records),
            "records": page,
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"{path}/{locator}-{start + self.PAGE}"
        return httpx.Response(200, json=body)


# --- HubSpot ------------------------------------------------------------------------------------


class FakeHubSpot(FakeApi):
    """A HubSpot account behind a private-app token; CRM search and the owners list paged by
    ``paging.next.after``. ``owners_forbidden`` answers the owners API 403 (a token without
    the crm.objects.owners.read scope); ``owner_pages`` counts the owners pages served."""

    api_prefix = "/crm/"
    PAGE = 2

    def __init__(self, token: str = "pat-eu1-test-token") -> None:
        super().__init__()
        self.token = token
        self.search_bodies: list[dict[str, Any]] = []
        self.deals: list[dict[str, Any]] = fixture("hubspot", "deals_search.json")["results"]
        self.companies = fixture("hubspot", "companies_search.json")["results"]
        self.owners: list[dict[str, Any]] = fixture("hubspot", "owners.json")["results"]
        self.owners_forbidden = False
        self.owner_pages = 0

    def authorized(self, request: httpx.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def unauthorized(self) -> httpx.Response:
        return httpx.Response(
            401,
            json={
                "status": "error",
                "message": "Authentication credentials not found.",
                "correlationId": "c7a3e2d4-0000-4000-8000-000000000000",
                "category": "INVALID_AUTHENTICATION",
            },
        )

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content or b"{}")
        search = re.fullmatch(r"/crm/v3/objects/(deals|companies)/search", path)
        if search:
            self.search_bodies.append(body)
            return self._search(self.deals if search.group(1) == "deals" else self.companies, body)
        if path == "/crm/v4/associations/deals/companies/batch/read":
            wanted = {i["id"] for i in body["inputs"]}
            results = [
                r
                for r in fixture("hubspot", "associations_deals_companies.json")["results"]
                if r["from"]["id"] in wanted
            ]
            return httpx.Response(
                200,
                json={
                    "status": "COMPLETE",
                    "results": results,
                    "startedAt": "2026-03-05T08:00:00.101Z",
                    "completedAt": "2026-03-05T08:00:00.164Z",
                },
            )
        if path in ("/crm/v3/owners", "/crm/v3/owners/") and request.method == "GET":
            return self._owners(request.url.params)
        if path == "/crm/v3/objects/companies/batch/read":
            wanted = {i["id"] for i in body["inputs"]}
            results = [
                r
                for r in fixture("hubspot", "companies_batch_read.json")["results"]
                if r["id"] in wanted
            ]
            return httpx.Response(200, json={"status": "COMPLETE", "results": results})
        return httpx.Response(404, json={"status": "error", "message": path})

    def _owners(self, params: httpx.QueryParams) -> httpx.Response:
        if self.owners_forbidden:
            return httpx.Response(
                403,
                json={
                    "status": "error",
                    "category": "MISSING_SCOPES",
                    "message": "This app hasn't been granted all required scopes to make this call.",
                    "correlationId": "5e1b2f0a-0000-4000-8000-000000000000",
                    "errors": [
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": ["crm.objects.owners.read"]},
                        }
                    ],
                },
            )
        self.owner_pages += 1
        archived = params.get("archived") == "true"
        found = [o for o in self.owners if bool(o.get("archived")) == archived]
        start = int(params.get("after", 0))
        size = min(int(params.get("limit", 100)), 500, self.PAGE)
        answer: dict[str, Any] = {"results": found[start : start + size]}
        if start + size < len(found):
            after = str(start + size)
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return httpx.Response(200, json=answer)

    def _search(self, records: list[dict[str, Any]], body: dict[str, Any]) -> httpx.Response:
        found = list(records)
        for group in body.get("filterGroups", []):
            for f in group["filters"]:
                assert f["propertyName"] == "hs_lastmodifieddate" and f["operator"] == "GTE"
                since = datetime.fromtimestamp(int(f["value"]) / 1000, UTC)
                found = [r for r in found if _time(r["properties"]["hs_lastmodifieddate"]) >= since]
        found.sort(key=lambda r: _time(r["properties"]["hs_lastmodifieddate"]))
        start = int(body.get("after", 0))
        size = min(int(body.get("limit", 10)), self.PAGE)
        answer: dict[str, Any] = {"total": len(found), "results": found[start : start + size]}
        if start + size < len(found):
            answer["paging"] = {
                "next": {"after": str(start + size), "link": f"?after={start + size}"}
            }
        return httpx.Response(200, json=answer)


# --- NetSuite -----------------------------------------------------------------------------------

NS_FIXTURES = {
    ("customer", None): "suiteql_customer.json",
    ("transaction", "CustInvc"): "suiteql_invoice.json",
    ("transaction", "CustCred"): "suiteql_credit_note.json",
    ("transaction", "CustPymt"): "suiteql_payment.json",
    ("currencyrate", None): "suiteql_currencyrate.json",
    ("job", None): "suiteql_job.json",
    ("timebill", None): "suiteql_timebill.json",
    ("currency", None): "suiteql_currency.json",
    ("subsidiary", None): "suiteql_subsidiary.json",
}


class FakeNetSuite(FakeApi):
    """An account behind token-based authentication: each request's OAuth 1.0a HMAC-SHA256
    signature is recomputed and compared; SuiteQL paged with ``hasMore``/offset.

    Its integration user's preferences are time zone ``NS_TIMEZONE`` and date format M/D/YYYY:
    the fixtures hold what a query with ``TO_CHAR`` gets (wall-clock times in that zone), a
    plain date column comes back as ``4/2/2026 6:05 am``, and the cursor filter must be
    ``lastmodifieddate >= TO_DATE('<wall clock>', 'YYYY-MM-DD HH24:MI:SS')``."""

    api_prefix = "/services/rest/"

    def __init__(
        self,
        realm: str = "1234567_SB1",
        consumer_key: str = "ck-test",
        consumer_secret: str = "cs-test",
        token_id: str = "tk-test",
        token_secret: str = "ts-test",
    ) -> None:
        super().__init__()
        self.realm, self.consumer_key, self.consumer_secret = realm, consumer_key, consumer_secret
        self.token_id, self.token_secret = token_id, token_secret
        self.nonces: set[str] = set()
        self.queries: list[str] = []

    def authorized(self, request: httpx.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        params = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}
        if (params.get("realm"), params.get("oauth_consumer_key"), params.get("oauth_token")) != (
            self.realm,
            self.consumer_key,
            self.token_id,
        ) or params.get("oauth_signature_method") != "HMAC-SHA256":
            return False
        if params["oauth_nonce"] in self.nonces:  # a replayed nonce is refused
            return False
        self.nonces.add(params["oauth_nonce"])
        base = signature_base_string(request.method, request.url, params)
        expected = hmac_sha256_signature(base, self.consumer_secret, self.token_secret)
        return params.get("oauth_signature") == expected

    def unauthorized(self) -> httpx.Response:
        return httpx.Response(
            401,
            json={
                "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
                "title": "Unauthorized",
                "status": 401,
                "o:errorDetails": [
                    {
                        "detail": "Invalid login attempt. For more details, see the Login"
                        " Audit Trail in the NetSuite UI at Setup > Users/Roles > User"
                        " Management > View Login Audit Trail.",
                        "o:errorCode": "INVALID_LOGIN",
                    }
                ],
            },
        )

    def route(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/services/rest/query/v1/suiteql" or request.method != "POST":
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        query = json.loads(request.content)["q"]
        self.queries.append(query)
        select = re.match(r"\s*SELECT\s+(.+?)\s+FROM\s+(\w+)", query, re.IGNORECASE | re.DOTALL)
        kind = re.search(r"type = '(\w+)'", query)
        name = (
            NS_FIXTURES.get((select.group(2), kind.group(1) if kind else None)) if select else None
        )
        if select is None or name is None:
            return self._bad_request(f"Invalid search query: {query[:80]}")
        items = fixture("netsuite", name)["items"]
        if kind:  # a transaction's `type` column, as NetSuite answers it
            items = [{"type": kind.group(1), **item} for item in items]
        if "lastmodifieddate >=" in query:
            since = re.search(
                r"lastmodifieddate >= TO_DATE\('([^']+)', 'YYYY-MM-DD HH24:MI:SS'\)", query
            )
            if since is None:  # a string literal is read in the user's date format: refused
                return self._bad_request("Invalid search query. Invalid date value.")
            items = [i for i in items if i["lastmodifieddate"] >= since.group(1).replace(" ", "T")]
        items.sort(key=lambda i: (i.get("lastmodifieddate", ""), int(i["id"])))
        try:
            items = [self._answer(i, select.group(1)) for i in items]
        except ValueError as exc:
            return self._bad_request(f"Invalid search query. {exc}")
        limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
        page = items[offset : offset + limit]
        return httpx.Response(
            200,
            json={
                "links": [],
                "count": len(page),
                "hasMore": offset + limit < len(items),
                "offset": offset,
                "totalResults": len(items),
                "items": page,
            },
        )

    @staticmethod
    def _bad_request(detail: str) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
                "title": "Bad Request",
                "status": 400,
                "o:errorDetails": [{"detail": detail, "o:errorCode": "INVALID_PARAMETER"}],
            },
        )

    def _answer(self, item: dict[str, Any], select: str) -> dict[str, Any]:
        """The item as NetSuite answers the select list: TO_CHAR'd columns in their format model,
        plain date columns in the user's date preference (M/D/YYYY, h:mm am), nulls left out."""
        wanted = list(item) if select.strip() == "*" else select_items(select)
        out: dict[str, Any] = {"links": []}
        for entry in wanted:
            formatted = re.fullmatch(r"TO_CHAR\((\w+), '([^']*)'\) AS (\w+)", entry)
            column, alias = (
                (formatted.group(1), formatted.group(3)) if formatted else (entry, entry)
            )
            value = item.get(column)
            if value is None or column == "links":
                continue
            out[alias] = _to_char(value, formatted.group(2)) if formatted else _user_format(value)
        return out


NS_TIMEZONE = "America/New_York"  # the recorded account's integration user's time zone


def _stored(value: str) -> datetime:
    """A fixture value: ``YYYY-MM-DD`` (a DATE) or ``YYYY-MM-DDTHH:MM:SS`` (wall clock)."""
    return datetime.fromisoformat(value)


def _to_char(value: str, mask: str) -> str:
    return _stored(value).strftime(format_model(mask))


def _user_format(value: Any) -> Any:
    """How NetSuite writes a plain DATE or date-time column for a user whose date format is
    M/D/YYYY and time format h:mm a; other values unchanged."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d)?", value):
        return value
    at = _stored(value)
    day = f"{at.month}/{at.day}/{at.year}"
    if "T" not in value:
        return day
    return f"{day} {at.hour % 12 or 12}:{at.minute:02d} {'pm' if at.hour >= 12 else 'am'}"


# --- n8n ----------------------------------------------------------------------------------------


class FakeN8n(FakeApi):
    """An n8n instance: executions newest first, paged with an opaque ``nextCursor``."""

    api_prefix = "/api/v1/"
    PAGE = 2

    def __init__(self, api_key: str = "n8n-test-api-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.executions: list[dict[str, Any]] = fixture("n8n", "executions.json")["data"]
        self.pages_served = 0

    def add(self, *executions: dict[str, Any]) -> None:
        """New executions (they come first: newest first)."""
        self.executions = [*executions, *self.executions]

    def authorized(self, request: httpx.Request) -> bool:
        return request.headers.get("X-N8N-API-KEY") == self.api_key

    def unauthorized(self) -> httpx.Response:
        return httpx.Response(401, json={"message": "unauthorized"})

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/workflows":
            return httpx.Response(200, json=fixture("n8n", "workflows.json"))
        if path != "/api/v1/executions":
            return httpx.Response(404, json={"message": "not found"})
        limit = int(request.url.params.get("limit", 100))
        if limit > 250:
            return httpx.Response(400, json={"message": "request/query/limit must be <= 250"})
        cursor = request.url.params.get("cursor")
        start = int(json.loads(base64.b64decode(cursor))["offset"]) if cursor else 0
        size = min(limit, self.PAGE)
        data = self.executions[start : start + size]
        if request.url.params.get("includeData") != "true":
            data = [{k: v for k, v in e.items() if k != "data"} for e in data]
        self.pages_served += 1
        following = start + size
        next_cursor = (
            base64.b64encode(json.dumps({"offset": following}).encode()).decode()
            if following < len(self.executions)
            else None
        )
        return httpx.Response(200, json={"data": data, "nextCursor": next_cursor})


FakeFactory = Callable[[], FakeApi]
