"""SLO YAML: the shipped defaults load, and every bad file fails naming the file and the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from slo_helpers import slo_doc, utc

from metrics.slo.spec import (
    DEFAULT_KPI_NAMES,
    DEFAULTS_PATH,
    SloConfigError,
    load_default_slos,
    load_slos,
    parse_slos,
)
from metrics.slo.windows import DEFAULT_BURN_WINDOWS

KPIS = DEFAULT_KPI_NAMES


def write(tmp_path: Path, docs: list[dict[str, Any]], name: str = "slos.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return path


def test_shipped_defaults_cover_the_four_kpis_with_their_targets() -> None:
    slos = {s.name: s for s in load_default_slos()}
    assert {s.kpi for s in slos.values()} == set(DEFAULT_KPI_NAMES)
    assert slos["project-setup-latency"].target == 0.95
    assert slos["project-setup-latency"].spec.indicator.threshold is not None
    assert slos["project-setup-latency"].spec.indicator.threshold.value == 2
    assert slos["invoice-cycle-time"].target == 0.90
    assert slos["sync-first-attempts"].target == 0.99
    assert slos["sync-first-attempts"].window.span == timedelta(days=7)
    assert slos["sync-first-attempts"].grouping == ("integration",)
    assert slos["unbilled-work-aging"].spec.indicator.weight == "value"
    # the aging budgets: stuck handoffs and old unbilled work
    setup_aging = slos["project-setup-latency"].aging
    assert setup_aging is not None and setup_aging.budget.unit == "business_days"
    assert slos["unbilled-work-aging"].aging_limit is not None
    assert slos["unbilled-work-aging"].aging_limit.value == 60
    for slo in slos.values():
        assert slo.spec.description and slo.metadata.display_name


def test_rows_a_target_cannot_reach_are_off_unless_named() -> None:
    slos = {s.name: s for s in load_default_slos()}
    fast = DEFAULT_BURN_WINDOWS[0]
    assert slos["invoice-cycle-time"].severity(fast) is None  # 14.4× > 1/(1-0.9)
    assert slos["sync-first-attempts"].severity(fast) == "page"
    assert slos["unbilled-work-aging"].severity(fast) is None  # switched off in the YAML


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return change


BAD_CASES = [
    pytest.param(
        _delete("spec.objectives.0.target"),
        "spec.objectives[0].target",
        "is required",
        id="missing-target",
    ),
    pytest.param(
        _set("spec.objectives.0.target", 1.5),
        "spec.objectives[0].target",
        "must be between 0 and 1",
        id="target-1.5",
    ),
    pytest.param(
        _set("spec.objectives.0.target", 1),
        "spec.objectives[0].target",
        "must be between 0 and 1",
        id="target-1-leaves-no-budget",
    ),
    pytest.param(
        _set("spec.objective", [{"target": 0.9}]),
        "spec.objective",
        "unknown field; did you mean 'objectives'?",
        id="unknown-field",
    ),
    pytest.param(
        _set("metadata.labels", {"team": "x"}),
        "metadata.labels",
        "unknown field",
        id="unknown-openslo-field-not-in-the-subset",
    ),
    pytest.param(
        _set("spec.indicator.kpi", "sync_eror_rate"),
        "spec.indicator.kpi",
        "unknown KPI 'sync_eror_rate'; did you mean 'sync_error_rate'?",
        id="unknown-kpi",
    ),
    pytest.param(
        _set("spec.timeWindow.0.duration", "5x"),
        "spec.timeWindow[0].duration",
        "'5x' is not a supported window",
        id="bad-window-unit",
    ),
    pytest.param(
        _set("spec.timeWindow.0.duration", "365d"),
        "spec.timeWindow[0].duration",
        "1 to 90 days",
        id="bad-window-too-long",
    ),
    pytest.param(
        _set("spec.timeWindow.0.duration", "1M"),
        "spec.timeWindow[0].duration",
        "1M needs a calendar",
        id="bad-window-month-without-calendar",
    ),
    pytest.param(
        _set(
            "spec.timeWindow.0",
            {
                "duration": "1M",
                "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Mars/Olympus"},
            },
        ),
        "spec.timeWindow[0].calendar.timeZone",
        "unknown time zone",
        id="bad-window-time-zone",
    ),
    pytest.param(
        _set("spec.timeWindow", [{"duration": "7d"}, {"duration": "28d"}]),
        "spec.timeWindow",
        "at most 1 item",
        id="bad-window-two-windows",
    ),
    pytest.param(
        _set("spec.indicator.threshold", {"op": "le", "value": 2, "unit": "business_days"}),
        "spec.indicator.threshold.op",
        "must be one of 'lt', 'lte', 'gt' or 'gte'",
        id="bad-op",
    ),
    pytest.param(
        _set("spec.budgetingMethod", "Timeslices"),
        "spec.budgetingMethod",
        "must be one of 'Occurrences'",
        id="unsupported-budgeting-method",
    ),
    pytest.param(
        _set("apiVersion", "openslo/v2alpha"),
        "apiVersion",
        "must be one of 'openslo/v1'",
        id="wrong-api-version",
    ),
    pytest.param(
        _set("metadata.name", "Setup Latency"),
        "metadata.name",
        "RFC 1123",
        id="name-not-a-label",
    ),
    pytest.param(
        _set("spec.x-throughline", {"grouping": ["country"]}),
        "spec.x-throughline.grouping[0]",
        "must be one of",
        id="unknown-grouping-dimension",
    ),
    pytest.param(
        _set("spec.x-throughline", {"alerting": {"windows": {"fastest": "page"}}}),
        "spec.x-throughline.alerting.windows",
        "unknown burn-rate window 'fastest'",
        id="unknown-burn-window",
    ),
    pytest.param(
        _set("spec.x-throughline", {"alerting": {"windows": {"fast": "urgent"}}}),
        "spec.x-throughline.alerting.windows.fast",
        "must be one of 'page', 'ticket' or 'none'",
        id="bad-severity",
    ),
    pytest.param(
        _set("spec.objectives.0.target", 0.9),
        None,
        None,
        id="ok-target-0.9",
    ),
    pytest.param(
        _set("spec.x-throughline", {"aging": {"budget": {"value": 5, "unit": "days"}}}),
        "spec.x-throughline.aging.limit",
        "needs a limit",
        id="aging-without-limit",
    ),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_CASES)
def test_a_bad_slo_file_names_the_file_and_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str | None, message: str | None
) -> None:
    good, bad = slo_doc(), slo_doc()
    good["metadata"]["name"] = "first"
    change(bad)
    path = write(tmp_path, [good, bad])
    if field is None:
        assert len(load_slos(path, kpis=KPIS)) == 2
        return
    with pytest.raises(SloConfigError) as caught:
        load_slos(path, kpis=KPIS)
    text = str(caught.value)
    expected = f"{path}: slos[1].{field}: "
    line = next((p for p in caught.value.problems if p.startswith(expected)), None)
    assert line is not None, text
    assert message is not None and message in line
    assert "(line " in line


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    first = slo_doc()
    first["spec"]["objectives"][0]["target"] = 1.5
    first["spec"]["indicator"]["kpi"] = "nope"
    second = slo_doc()
    second["metadata"]["name"] = "second"
    second["spec"]["timeWindow"][0]["duration"] = "5x"
    path = write(tmp_path, [first, second])
    with pytest.raises(SloConfigError) as caught:
        load_slos(path, kpis=KPIS)
    problems = caught.value.problems
    assert len(problems) == 3
    assert any("slos[0].spec.objectives[0].target" in p for p in problems)
    assert any("slos[0].spec.indicator.kpi" in p for p in problems)
    assert any("slos[1].spec.timeWindow[0].duration" in p for p in problems)


def test_unreachable_burn_row_named_in_yaml_is_refused(tmp_path: Path) -> None:
    doc = slo_doc()
    doc["spec"]["objectives"][0]["target"] = 0.9
    doc["spec"]["x-throughline"] = {"alerting": {"windows": {"fast": "page"}}}
    with pytest.raises(SloConfigError, match=r"alerting\.windows\.fast: burn rate 14\.4×"):
        load_slos(write(tmp_path, [doc]), kpis=KPIS)


def test_error_reports_the_line_of_the_field(tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    text = DEFAULTS_PATH.read_text(encoding="utf-8").replace("target: 0.99", "target: 99")
    path.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "target: 99" in row)
    with pytest.raises(SloConfigError) as caught:
        load_slos(path, kpis=KPIS)
    assert caught.value.problems == (
        f"{path}: slos[2].spec.objectives[0].target: must be between 0 and 1 "
        f"(exclusive; 0.95 means 95 %) (line {line})",
    )


def test_multi_document_and_list_files_load_the_same(tmp_path: Path) -> None:
    one, two = slo_doc(), slo_doc()
    two["metadata"]["name"] = "other"
    as_documents = write(tmp_path, [one, two], "docs.yaml")
    as_list = tmp_path / "list.yaml"
    as_list.write_text(yaml.safe_dump([one, two]), encoding="utf-8")
    assert load_slos(as_documents, kpis=KPIS) == load_slos(as_list, kpis=KPIS)


def test_duplicate_names_and_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, [slo_doc(), slo_doc()])
    with pytest.raises(SloConfigError, match=r"slos\[1\]\.metadata\.name: duplicate name"):
        load_slos(path, kpis=KPIS)
    text = yaml.safe_dump(slo_doc(), sort_keys=False) + "kind: SLO\n"
    with pytest.raises(SloConfigError, match=r"slos\[0\]\.kind: key given twice \(line \d+\)"):
        parse_slos(text, source="dup.yaml", kpis=KPIS)


def test_invalid_yaml_and_missing_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SloConfigError, match=r"bad\.yaml: not valid YAML: .*line 2"):
        parse_slos("a: [1,\nb: }", source="bad.yaml", kpis=KPIS)
    with pytest.raises(SloConfigError, match=r"missing\.yaml: cannot read"):
        load_slos(tmp_path / "missing.yaml", kpis=KPIS)
    with pytest.raises(SloConfigError, match=r"slos\[0\]: an SLO must be a mapping"):
        parse_slos("just text\n", source="text.yaml", kpis=KPIS)


def test_kpi_names_come_from_the_caller() -> None:
    text = yaml.safe_dump(slo_doc(spec__indicator={"kpi": "my_new_kpi"}))
    assert parse_slos(text, kpis=None)[0].kpi == "my_new_kpi"
    assert parse_slos(text, kpis={"my_new_kpi"})[0].kpi == "my_new_kpi"
    with pytest.raises(SloConfigError, match="unknown KPI 'my_new_kpi'"):
        parse_slos(text, kpis=KPIS)


def test_windows_resolve_to_rolling_spans_and_calendar_months() -> None:
    text = yaml.safe_dump(
        slo_doc(
            spec__timeWindow=[
                {
                    "duration": "1M",
                    "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Berlin"},
                    "isRolling": False,
                }
            ]
        )
    )
    (monthly,) = parse_slos(text, kpis=KPIS)
    start, end = monthly.window.bounds(utc(2024, 5, 15, 12))
    berlin = ZoneInfo("Europe/Berlin")
    assert start == utc(2024, 4, 30, 22) and start.astimezone(berlin).day == 1
    assert end == utc(2024, 5, 31, 22)
    assert monthly.window.bounds(utc(2024, 12, 31, 23, 30))[0] == utc(2024, 12, 31, 23)
    (rolling,) = parse_slos(yaml.safe_dump(slo_doc()), kpis=KPIS)
    assert rolling.window.bounds(utc(2024, 5, 15)) == (utc(2024, 5, 8), utc(2024, 5, 15))
    assert rolling.window.tz == UTC
