"""The SOQL and SuiteQL subsets: what parses, and how bad queries are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collectors.demo_estate.apis.soql import Condition, SoqlError, parse_soql
from collectors.demo_estate.apis.suiteql import Cond, SuiteQlError, parse_suiteql


def test_soql_with_relationship_fields_filter_order_and_limit() -> None:
    q = parse_soql(
        "SELECT Id, Owner.Name, Account.Name FROM Opportunity "
        "WHERE SystemModstamp >= 2026-01-01T00:00:00Z AND SystemModstamp < 2026-02-01T00:00:00.000+0000 "
        "ORDER BY SystemModstamp, Id ASC LIMIT 50"
    )
    assert q.fields == ("Id", "Owner.Name", "Account.Name")
    assert q.sobject == "Opportunity"
    assert q.where == (
        Condition("SystemModstamp", ">=", datetime(2026, 1, 1, tzinfo=UTC)),
        Condition("SystemModstamp", "<", datetime(2026, 2, 1, tzinfo=UTC)),
    )
    assert q.order_by == (("SystemModstamp", False), ("Id", False))
    assert q.limit == 50


def test_soql_keywords_are_case_insensitive_and_whitespace_free() -> None:
    q = parse_soql(
        "select Id,Name\n from Account where LastModifiedDate > 2026-03-01T10:00:00+01:00"
    )
    assert q.fields == ("Id", "Name")
    assert q.where[0].value == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert q.order_by == ()


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id Account", "MALFORMED_QUERY"),
        (
            "SELECT Id FROM Account WHERE LastModifiedDate > '2026-01-01T00:00:00Z'",
            "INVALID_QUERY_FILTER_OPERATOR",
        ),
        ("SELECT Id FROM Account WHERE Name LIKE 'A%'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account ORDER BY Name SIDEWAYS", "MALFORMED_QUERY"),
    ],
)
def test_soql_rejects_what_it_does_not_support(soql: str, code: str) -> None:
    with pytest.raises(SoqlError) as caught:
        parse_soql(soql)
    assert caught.value.code == code


def test_suiteql_star_with_type_and_lastmodified_filter() -> None:
    q = parse_suiteql(
        "SELECT * FROM transaction WHERE type = 'CustInvc' AND "
        "lastmodifieddate >= '2026-01-01T00:00:00Z' ORDER BY lastmodifieddate, id"
    )
    assert q.columns is None
    assert q.table == "transaction"
    assert q.where == (
        Cond("type", "=", "CustInvc"),
        Cond("lastmodifieddate", ">=", "2026-01-01T00:00:00Z"),
    )
    assert q.order_by == (("lastmodifieddate", False), ("id", False))


def test_suiteql_explicit_columns_and_no_filter() -> None:
    q = parse_suiteql("select ID, entityid from Customer order by id desc;")
    assert q.columns == ("id", "entityid")
    assert q.table == "customer"
    assert q.order_by == (("id", True),)


@pytest.mark.parametrize(
    "q",
    [
        "SELECT FROM customer",
        "SELECT * FROM transaction WHERE lastmodifieddate >= 2026-01-01",
        "SELECT * FROM transaction WHERE type IN ('CustInvc')",
        "SELECT a.b FROM customer",
    ],
)
def test_suiteql_rejects_what_it_does_not_support(q: str) -> None:
    with pytest.raises(SuiteQlError):
        parse_suiteql(q)
