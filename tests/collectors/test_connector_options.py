"""Every connector option from the connectors file, validated: an unknown option, a wrong type
or a bad value is one sentence naming the file, the connector and the key; ordinary mistakes in
the environment name the variable; base URLs are normalised; the README's tables list every
option with its type and default."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from collectors import erp_tryton
from collectors.connector_tables import option_rows
from collectors.errors import ConfigurationError
from collectors.registry import OPTIONS as SPECS
from collectors.registry import build_collector, load_connector_options
from foundation.settings import CollectorSettings, Settings
from tests.collectors.fixture_api import FixtureApi
from tests.collectors.sources import saas_settings

README = Path(__file__).parents[2] / "README.md"


def load(tmp_path: Path, text: str) -> dict[str, Any]:
    path = tmp_path / "connectors.yaml"
    path.write_text(text, encoding="utf-8")
    return load_connector_options(str(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tryton:\n  deal_link: {rule: field, pattern: 'Deal (\\S+'}\n",
            r"tryton\.deal_link\.pattern: 'Deal \(\\S\+' is not a regular expression",
        ),
        (
            "tryton:\n  deal_link: {rule: field, pattern: 'Deal (\\S+)'}\n",
            r"tryton\.deal_link\.pattern: .* needs a group named id .* or number",
        ),
        (
            "tryton:\n  deal_link: {rule: regex}\n",
            r"tryton\.deal_link\.rule should be 'party' or 'field' \(got 'regex'\)",
        ),
        (
            "tryton:\n  deal_link: {rule: field, field: 'Comment Field'}\n",
            r"tryton\.deal_link\.field: 'Comment Field' is not a Tryton field name",
        ),
        (
            "tryton:\n  deal_links: {rule: field}\n",
            r"tryton\.deal_links is not an option \(did you mean deal_link\?\); known: ",
        ),
        (
            "tryton:\n  integration_users: svc\n",
            r"tryton\.integration_users should be a list \(got 'svc'\)",
        ),
        ("tryton:\n  page_size: 0\n", r"tryton\.page_size: 1 to 10000 records a call, not 0"),
        (
            "tryton:\n  base_url: https://erp.example.com/db/\n",
            r"tryton\.base_url is not set in the connectors file but with "
            r"THROUGHLINE_COLLECTORS__TRYTON__BASE_URL",
        ),
        ("n8n:\n  limit: ten\n", r"n8n\.limit should be a whole number \(got 'ten'\)"),
        (
            "n8n:\n  trace_key_path: 'body[0.customerId'\n",
            r"n8n\.trace_key_path: 'body\[0\.customerId' is not a payload path",
        ),
        ("n8n:\n  object_type: customer\n", r"n8n\.object_type should be 'account', 'deal'"),
        (
            "hubspot:\n  fields: {won_stage: [closedwon]}\n",
            r"hubspot\.fields\.won_stage is not an option \(did you mean won_stages\?\)",
        ),
        (
            "salesforce:\n  auth: saml\n",
            r"salesforce\.auth should be 'client_credentials' or 'jwt_bearer' \(got 'saml'\)",
        ),
        (
            "salesforce:\n  project_object: {name: Name}\n",
            r"salesforce\.project_object\.sobject is required",
        ),
        (
            "netsuite:\n  fields: {project_code: 'custbody tl'}\n",
            r"netsuite\.fields\.project_code: 'custbody tl' is not a SuiteQL column name",
        ),
        ("netsuite:\n  projects: maybe\n", r"netsuite\.projects should be true or false"),
        (
            "netsuite:\n  legal_entities: [US]\n",
            r"netsuite\.legal_entities should be a mapping of names to values",
        ),
        (
            "logfiles:\n  files:\n    - {name: m, path: /x, format: jsonl, fields: {integration: a}}\n",
            r"logfiles\.files\[0\]\.fields: the mapping needs flow, status, started_at",
        ),
        (
            "logfiles:\n  files:\n    - {name: m, path: /x, format: jsonl, timezone: Mars/Base,"
            " defaults: {integration: a, flow: b, status: ok, started_at: x}}\n",
            r"logfiles\.files\[0\]\.timezone: 'Mars/Base' is not an IANA time zone name",
        ),
        (
            "logfiles:\n  files:\n    - {name: m, path: /x, format: jsonl,"
            " fields: {integration: a, flow: b, status: c, started_at: d, trace_key: 'body[x]'}}\n",
            r"logfiles\.files\[0\]\.fields: trace_key: 'body\[x\]' is not a payload path",
        ),
        (
            "salesfroce:\n  auth: jwt_bearer\n",
            r"salesfroce is not a connector \(did you mean salesforce\?\)",
        ),
        ("demo_crm:\n  limit: 2\n", r"demo_crm is not a connector"),
    ],
)
def test_a_bad_option_is_one_sentence_naming_the_file_connector_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, text)
    said = str(caught.value)
    assert said.startswith(f"{tmp_path / 'connectors.yaml'}: ") and "\n" not in said
    assert re.search(message, said), said


def leaf_options() -> list[tuple[str, str]]:
    """(connector, dotted option) of every option that is not inside a list of entries."""
    return [(name, key) for name in SPECS for key, _, _ in option_rows(name) if "[]" not in key]


@pytest.mark.parametrize(("connector", "key"), leaf_options())
def test_a_value_of_the_wrong_shape_is_refused_naming_its_key(
    tmp_path: Path, connector: str, key: str
) -> None:
    """`[{x: 1}]` is the wrong shape for every option: text, number, flag, list or mapping."""
    section: dict[str, Any] = {}
    *parents, leaf = key.split(".")
    here = section
    for parent in parents:
        here = here.setdefault(parent, {})
    here[leaf] = [{"x": 1}]
    if parents == ["project_object"] or parents == ["invoice_object"]:
        here.setdefault("sobject", "Project__c")
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, yaml.safe_dump({connector: section}))
    assert f"{connector}.{key}" in str(caught.value)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    connector=st.sampled_from(sorted(SPECS)),
    name=st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True),
)
def test_an_unknown_option_is_always_named(tmp_path: Path, connector: str, name: str) -> None:
    known = {key.split(".")[0].removesuffix("[]") for key, _, _ in option_rows(connector)}
    if name in known or any(w in name for w in ("secret", "token", "password", "key")):
        return
    with pytest.raises(ConfigurationError, match=rf"{connector}\.{name} is not an option"):
        load(tmp_path, yaml.safe_dump({connector: {name: "x"}}))


def test_a_token_url_is_not_taken_for_a_secret(tmp_path: Path) -> None:
    options = load(tmp_path, "salesforce:\n  token_url: https://login.example.com/token\n")
    assert options["salesforce"]["token_url"] == "https://login.example.com/token"
    with pytest.raises(ConfigurationError, match=r"salesforce\.client_secret looks like a secret"):
        load(tmp_path, "salesforce:\n  client_secret: abc\n")


def test_a_missing_connectors_file_or_bad_yaml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"THROUGHLINE_CONNECTORS_FILE points to .*nope"):
        load_connector_options(str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigurationError, match=r"connectors\.yaml: not valid YAML"):
        load(tmp_path, "tryton: [\n")


# --- the environment: ordinary mistakes name the variable ------------------------------------------


def tryton_settings(
    url: str | None = "https://erp.example.com:8000/firm/", **secrets: str
) -> Settings:
    given = {"tryton_password": "secret", **secrets}
    return Settings(
        database_url="sqlite://",
        collectors={"tryton": CollectorSettings(base_url=url)} if url else {},
        secrets={k: SecretStr(v) for k, v in given.items() if v},
    )


def test_a_missing_tryton_password_names_its_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_collector("tryton", tryton_settings(tryton_password=""), options={})
    assert str(caught.value) == "tryton has no password: set THROUGHLINE_SECRETS__TRYTON_PASSWORD"


@pytest.mark.parametrize("url", ["https://erp.example.com:8000", "https://erp.example.com:8000/"])
def test_a_tryton_url_without_its_database_is_refused_naming_the_form(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_collector("tryton", tryton_settings(url), options={})
    assert str(caught.value).startswith(
        "THROUGHLINE_COLLECTORS__TRYTON__BASE_URL must be the database's URL,"
        " https://host:8000/<database>/, with the database name"
    )


def test_a_base_url_without_its_scheme_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match=r"must be an http:// or https:// URL"):
        tryton_settings("erp.example.com/db")


@pytest.mark.parametrize(
    ("url", "database_url"),
    [
        ("https://erp.example.com:8000/firm", "https://erp.example.com:8000/firm/"),
        ("https://erp.example.com:8000/firm/rpc/", "https://erp.example.com:8000/firm/"),
    ],
)
def test_a_tryton_url_is_normalised_to_the_database(url: str, database_url: str) -> None:
    assert erp_tryton.database_url(url, "X") == database_url
    collector = build_collector("tryton", tryton_settings(url), options={})
    assert getattr(collector, "base_url", None) == database_url


def n8n_settings(url: str | None) -> Settings:
    return Settings(
        database_url="sqlite://",
        collectors={"n8n": CollectorSettings(base_url=url)} if url else {},
        secrets={"n8n_api_key": SecretStr("n8n-test-api-key")},
    )


def test_a_missing_n8n_base_url_names_its_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_collector("n8n", n8n_settings(None), options={})
    assert str(caught.value) == "n8n has no base URL: set THROUGHLINE_COLLECTORS__N8N__BASE_URL"
    with pytest.raises(ValueError, match="must be an http:// or https:// URL"):
        n8n_settings("n8n.example.com")  # the settings refuse it before any collector is built


@pytest.mark.parametrize(
    "url",
    [
        "https://n8n.example.com",
        "https://n8n.example.com/",
        "https://n8n.example.com/api/v1",
        "https://n8n.example.com/api/v1/",
        "https://n8n.example.com/api",
    ],
)
def test_an_n8n_url_works_with_or_without_api_v1(url: str) -> None:
    fake = FixtureApi("n8n")
    paths: list[str] = []

    def recorded(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return fake.handle(request)

    collector = build_collector(
        "n8n", n8n_settings(url), options={}, transport=httpx.MockTransport(recorded)
    )
    stream = collector.streams[0]
    with collector.open_client() as client:
        assert stream.workflow_names(client)  # type: ignore[attr-defined]
    assert paths == ["/api/v1/workflows"]


# --- the README ---------------------------------------------------------------------------------


def readme_tables() -> dict[str, list[tuple[str, str, str, str]]]:
    """Each connector's options table in the README's "Connectors" section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Connectors\n") :]
    section = section[: section.index("\n## ", 5)] if "\n## " in section[5:] else section
    tables: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in section.splitlines():
        heading = re.match(r"### .*\(`(\w+)`\)", line)
        if heading:
            current = heading.group(1)
        row = re.match(r"\| `([^`]+)` \| (.+?) \| (.+?) \| (.+) \|$", line)
        if row and current:
            tables.setdefault(current, []).append(row.groups())  # type: ignore[arg-type]
    return tables


def test_the_readme_lists_every_option_with_its_type_and_default() -> None:
    tables = readme_tables()
    assert sorted(tables) == sorted(SPECS)
    for name in SPECS:
        documented = [row[:3] for row in tables[name]]
        assert documented == option_rows(name), (
            f"README's {name} options table is out of step: run"
            " `python -m collectors.connector_tables` and update it"
        )
        assert all(row[3].strip() for row in tables[name]), f"{name}: an option is not explained"


@pytest.mark.parametrize("connector", ["tryton", "netsuite"])
def test_a_company_mapped_to_an_unconfigured_legal_entity_is_refused(connector: str) -> None:
    """An unknown code would silently fall back to a weekends-only calendar."""
    settings = tryton_settings() if connector == "tryton" else saas_settings("netsuite")
    with pytest.raises(ConfigurationError) as caught:
        build_collector(
            connector, settings, options={connector: {"legal_entities": {"Acme SARL": "FR"}}}
        )
    assert str(caught.value) == (
        f"the connector options: {connector}.legal_entities: FR is not a configured legal entity"
        " (known: US, UK, DE; see THROUGHLINE_LEGAL_ENTITIES)"
    )
