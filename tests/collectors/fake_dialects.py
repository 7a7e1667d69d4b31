"""How the generic fake API (`tests.collectors.fixture_api`) reads a request and shapes its answer.

Everything here is driven by a route of a `fixtures.yaml` (format: `tests/fixtures/http/README.md`):
where a value is in a request (`extract`), which records a list route serves (`select`: table,
added columns, cursor filter, equality filters, order, omitted members, a query dialect's
shape), how it cuts them into pages (`page`: the paging styles `next_url`, `after`, `offset`,
`cursor`), a `lookup` by the ids a request lists, and the replay of a JSON-RPC recording
(`jsonrpc`, with `tryton_domain` to filter rows the way a `search_read` domain does).
"""

from __future__ import annotations

import base64
import json
import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from collectors.demo_estate.apis.suiteql import format_model, select_items
from collectors.erp_tryton.client import decode_value

if TYPE_CHECKING:
    from tests.collectors.fixture_api import FixtureApi, Tables

Route = dict[str, Any]


class Refused(Exception):
    """The request is refused with the declared answer `answer` (its detail filled in)."""

    def __init__(self, answer: str, detail: str = "") -> None:
        super().__init__(answer, detail)
        self.answer, self.detail = answer, detail


# --- reading requests ---------------------------------------------------------------------------


def route_match(route: Route, request: httpx.Request) -> re.Match[str] | None:
    """The route's path pattern matched against the request (None: not this route)."""
    if request.method != route.get("method", request.method):
        return None
    suffix = _CONTINUATION if (route.get("paging") or {}).get("style") == "next_url" else ""
    return re.fullmatch(route["path"] + suffix, request.url.path)


def body(request: httpx.Request) -> Any:
    """The request's JSON body ({} without one)."""
    try:
        return json.loads(request.content or b"{}")
    except ValueError:
        return {}


def sent(request: httpx.Request) -> Any:
    """What a request sent: its JSON body, else its query parameters."""
    return body(request) if request.content else dict(request.url.params)


def at_path(value: Any, path: str) -> Any:
    """The member at a dotted `path` (``a.b``); ``[*]`` after a name yields each item."""
    found = [value]
    for part in path.split("."):
        many = part.endswith("[*]")
        name = part.removesuffix("[*]")
        found = [v.get(name) if isinstance(v, dict) else None for v in found]
        if many:
            found = [item for v in found if isinstance(v, list) for item in v]
    return found if "[*]" in path else found[0]


def raw(spec: Route, request: httpx.Request, match: re.Match[str]) -> str | None:
    """The text where a value is: the spec's `value`, a query `param`, a `body` member or a
    `path` group."""
    if "value" in spec:
        text = spec["value"]
    elif "param" in spec:
        text = request.url.params.get(spec["param"])
    elif "body" in spec:
        text = at_path(body(request), spec["body"])
    else:
        text = match.group(spec["path"])
    return None if text is None else str(text)


def extract(spec: Route, request: httpx.Request, match: re.Match[str]) -> re.Match[str] | None:
    """The `raw` text matched against the spec's `pattern` (default: all of it)."""
    text = raw(spec, request, match)
    return None if text is None else re.search(spec.get("pattern", r"(?s)(.*)"), text)


def extracted(spec: Route, request: httpx.Request, match: re.Match[str]) -> str | None:
    """The value `extract` finds: its group `value`, else its first group."""
    found = extract(spec, request, match)
    if found is None:
        return None
    return found.groupdict().get("value") or found.group(1)


def filled(template: Any, detail: str) -> Any:
    """A declared answer's JSON with ``{detail}`` filled in."""
    if isinstance(template, str):
        return template.replace("{detail}", detail)
    if isinstance(template, list):
        return [filled(v, detail) for v in template]
    if isinstance(template, dict):
        return {k: filled(v, detail) for k, v in template.items()}
    return template


# --- selecting records --------------------------------------------------------------------------


def select(
    api: FixtureApi, route: Route, request: httpx.Request, match: re.Match[str]
) -> list[Any]:
    """The records a list route answers a request with, filtered, sorted and shaped."""
    parts = route["table"] if isinstance(route["table"], list) else [route["table"]]
    found = [extracted(p, request, match) for p in parts]
    if any(f is None for f, p in zip(found, parts, strict=True) if not p.get("optional")):
        raise Refused("unknown_table", f"{request.url.params.get('q') or sent(request)!s:.80}")
    name = ":".join(f for f in found if f)
    if name not in api.tables.declared:
        raise Refused("unknown_table", f"{name}: {sent(request)!s:.80}")
    records = [dict(r) if isinstance(r, dict) else r for r in api.tables[name]]
    for column, spec in (route.get("columns") or {}).items():
        value = extracted(spec, request, match)
        if value is not None:
            records = [{column: value, **r} for r in records]
    if "since" in route:
        records = _since(route["since"], request, match, records)
    for field, spec in (route.get("match") or {}).items():
        wanted = request.url.params.get(spec["param"], spec.get("default"))
        if spec.get("as") == "bool":
            records = [r for r in records if bool(r.get(field)) == (wanted == "true")]
        else:
            records = [r for r in records if str(r.get(field)) == wanted]
    if "order" in route:
        records.sort(key=_order_key(route["order"], request, match))
    omit = route.get("omit")
    if omit and request.url.params.get(omit["unless"]["param"]) != omit["unless"]["equals"]:
        records = [{k: v for k, v in r.items() if k not in omit["members"]} for r in records]
    shape = route.get("shape")
    if shape:
        select_list = extracted(shape["select"], request, match) or "*"
        try:
            records = [SHAPES[shape["dialect"]](r, select_list) for r in records]
        except ValueError as exc:
            raise Refused("bad_query", str(exc)) from None
    return records


def _since(spec: Route, request: httpx.Request, match: re.Match[str], records: list[Any]) -> Any:
    if "json" in spec:
        values = []
        for condition in at_path(body(request), spec["json"]):
            where = {k: condition.get(k) for k in spec["where"]}
            assert where == spec["where"], f"a filter the fake does not know: {condition}"
            values.append(condition[spec["value"]])
        value, field = (values[-1] if values else None), spec["field"]
    else:
        found = extract(spec, request, match)
        if found is None:
            guard = spec.get("required_by")
            if guard and guard in (raw(spec, request, match) or ""):
                refused = spec["refused"]
                raise Refused(refused["answer"], refused["detail"])
            return records
        groups = found.groupdict()
        value, field = groups.get("value") or found.group(1), groups.get("field") or spec["field"]
    if value is None:
        return records
    since = read_time(value, spec["format"])
    kind = spec.get("field_format", "iso")  # how the records write the field
    return [r for r in records if read_time(at_path(r, field), kind) >= since]


def read_time(value: Any, kind: str) -> datetime:
    """A time as a request or a record writes it: ISO 8601 (``Z``, ``+0000``), epoch
    milliseconds, or a wall-clock time without offset (compared with others like it)."""
    if kind == "epoch_ms":
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    if kind == "wall_clock":
        return datetime.fromisoformat(str(value))
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


def _order_key(spec: Route, request: httpx.Request, match: re.Match[str]) -> Callable[[Any], Any]:
    fields = list(spec.get("fields") or [])
    if "pattern" in spec:
        found = extracted(spec, request, match)
        fields = [found] if found else []
    fields += spec.get("then") or []
    return lambda record: tuple(sortable(at_path(record, f)) for f in fields)


def sortable(value: Any) -> tuple[int, Any]:
    """A value as a sort key: none first, then numbers (digit strings too), times, text."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return (1, int(value) if isinstance(value, str) else value)
    try:
        return (2, read_time(value, "iso"))
    except (TypeError, ValueError):
        return (3, str(value))


# --- paging -------------------------------------------------------------------------------------

_CONTINUATION = r"(?:/(?P<locator>\w+)-(?P<start>\d+))?"


def continues(paging: Route, match: re.Match[str]) -> bool:
    """Whether the request asks for a later page of a walk the fake keeps (a next URL)."""
    return paging.get("style") == "next_url" and match.groupdict().get("locator") is not None


def page(
    api: FixtureApi, paging: Route, request: httpx.Request, match: re.Match[str], records: list[Any]
) -> httpx.Response:
    """One page of `records` linked to the next the way the route's paging style does."""
    size = api.page_size or paging.get("page") or len(records) or 1
    member = paging.get("records", "records")
    style = paging.get("style")
    if style == "next_url":  # Salesforce: totalSize, done, nextRecordsUrl relative to the host
        locator = match.group("locator")
        start = int(match.group("start") or 0)
        if locator is None:
            locator = f"01gFAKE{len(api.cursors):08d}"
            api.cursors[locator] = records
        walk, path = api.cursors[locator], request.url.path
        base = path[: match.start("locator") - 1] if match.group("locator") else path
        done = start + size >= len(walk)
        answer: dict[str, Any] = {"totalSize": len(walk), "done": done}
        answer[member] = walk[start : start + size]
        if not done:
            answer["nextRecordsUrl"] = f"{base}/{locator}-{start + size}"
        return httpx.Response(200, json=answer)
    if style == "after":  # HubSpot: `after` in the body or the query, paging.next.after
        asked = body(request) if paging["in"] == "body" else request.url.params
        start = int(asked.get("after", 0))
        size = min(int(asked.get("limit", paging["limit"])), paging.get("max") or size, size)
        answer = {paging["total"]: len(records)} if paging.get("total") else {}
        answer[member] = records[start : start + size]
        if start + size < len(records):
            after = str(start + size)
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return httpx.Response(200, json=answer)
    if style == "offset":  # NetSuite: limit and offset asked for, hasMore and totalResults
        limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
        part = records[offset : offset + limit]
        answer = {"links": [], "count": len(part), "hasMore": offset + limit < len(records)}
        answer.update({"offset": offset, "totalResults": len(records), member: part})
        return httpx.Response(200, json=answer)
    if style == "cursor":  # an opaque token (here: base64 JSON of the offset), n8n's names
        limit = int(request.url.params.get(paging.get("limit_param", "limit"), paging["limit"]))
        if limit > paging.get("max", limit):
            return api.answer(paging["refused"])
        cursor = request.url.params.get(paging.get("param", "cursor"))
        start = int(json.loads(base64.b64decode(cursor))["offset"]) if cursor else 0
        following = start + min(limit, size)
        token = base64.b64encode(json.dumps({"offset": following}).encode()).decode()
        answer = {member: records[start:following]}
        answer[paging.get("member", "nextCursor")] = token if following < len(records) else None
        return httpx.Response(200, json=answer)
    return httpx.Response(200, json={member: records})


def lookup(route: Route, request: httpx.Request, tables: Tables) -> httpx.Response:
    """The table's records whose key is among the ids the request lists."""
    spec = route["lookup"]
    wanted = {str(i) for i in at_path(body(request), spec["ids"])}
    found = [r for r in tables[spec["table"]] if str(at_path(r, spec["key"])) in wanted]
    return httpx.Response(200, json={**(route.get("envelope") or {}), "results": found})


# --- SuiteQL: the select list as NetSuite answers it --------------------------------------------


def suiteql(item: dict[str, Any], select: str) -> dict[str, Any]:
    """The item as NetSuite answers the select list: TO_CHAR'd columns in their format model
    (another model: `ValueError`), plain date columns in the user's date preference (M/D/YYYY,
    h:mm am), nulls left out."""
    wanted = list(item) if select.strip() == "*" else select_items(select)
    out: dict[str, Any] = {"links": []}
    for entry in wanted:
        formatted = re.fullmatch(r"TO_CHAR\((\w+), '([^']*)'\) AS (\w+)", entry)
        column, alias = (formatted.group(1), formatted.group(3)) if formatted else (entry, entry)
        value = item.get(column)
        if value is None or column == "links":
            continue
        out[alias] = _to_char(value, formatted.group(2)) if formatted else _user_format(value)
    return out


def _to_char(value: str, mask: str) -> str:
    return datetime.fromisoformat(value).strftime(format_model(mask))


def _user_format(value: Any) -> Any:
    """How NetSuite writes a plain DATE or date-time column for a user whose date format is
    M/D/YYYY and time format h:mm a; other values unchanged."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d)?", value):
        return value
    at = datetime.fromisoformat(value)
    day = f"{at.month}/{at.day}/{at.year}"
    if "T" not in value:
        return day
    return f"{day} {at.hour % 12 or 12}:{at.minute:02d} {'pm' if at.hour >= 12 else 'am'}"


SHAPES: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {"suiteql": suiteql}


# --- JSON-RPC: a recording replayed -------------------------------------------------------------


def jsonrpc(recording: list[dict[str, Any]], request: httpx.Request) -> httpx.Response:
    """A `search_read` answered from the recorded rows of the same model and fields (its domain,
    order, offset and limit applied); any other call answered as recorded."""
    call = body(request)
    method, params = call["method"], call["params"]
    if method.endswith(".search_read"):
        fields = params[4]
        rows: dict[Any, dict[str, Any]] = {}
        for recorded in recording:
            if recorded["method"] == method and recorded["params"][4] == fields:
                rows.update({r["id"]: r for r in recorded["answer"]["result"]})
        found = [r for r in rows.values() if tryton_domain(params[0], r)]
        for field, direction in reversed(params[3]):
            found.sort(
                key=lambda r: sortable(decode_value(r.get(field))), reverse=direction == "DESC"
            )
        result = found[params[1] :][: params[2]] if params[2] is not None else found[params[1] :]
        return httpx.Response(200, json={"id": call["id"], "result": result})
    for recorded in recording:
        if recorded["method"] == method and recorded["params"] == params:
            return httpx.Response(200, json={**recorded["answer"], "id": call["id"]})
    return httpx.Response(500, json={"id": call["id"], "error": ["not recorded", method]})


def tryton_domain(domain: list[Any], row: dict[str, Any]) -> bool:
    """Whether a row satisfies a Tryton domain (clauses and ``["OR", …]`` lists; ``=``, ``!=``,
    ``in``, ``not in``, ``<``, ``<=``, ``>``, ``>=``; a Many2One compared by its id)."""
    if domain and domain[0] in ("OR", "AND"):
        parts = [tryton_domain(d, row) for d in domain[1:]]
        return any(parts) if domain[0] == "OR" else all(parts)
    if len(domain) == 3 and isinstance(domain[0], str) and isinstance(domain[1], str):
        return _clause(domain, row)
    return all(tryton_domain(d, row) for d in domain)


def _clause(clause: list[Any], row: dict[str, Any]) -> bool:
    field, comparison, wanted = clause
    value = row.get(field, (row.get(f"{field}.") or {}).get("id"))
    have, want = decode_value(value), decode_value(wanted)
    if comparison in ("in", "not in"):
        return bool((have in want) == (comparison == "in"))
    if comparison in ("=", "!="):
        return bool((have == want) == (comparison == "="))
    if have is None or want is None:
        return False
    return bool(_COMPARE[comparison](have, want))


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
