"""OAuth 2.0 token providers against a fake Salesforce token endpoint, and NetSuite's OAuth 1.0a
(HMAC-SHA256) signing against documented vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from sqlalchemy import Engine

from collectors.auth import (
    JWT_LIFETIME_SECONDS,
    ClientCredentialsGrant,
    JwtBearerGrant,
    NetSuiteTokenAuth,
    OAuthTokenProvider,
    hmac_sha256_signature,
    netsuite_realm,
    percent_encode,
    signature_base_string,
)
from collectors.errors import AuthFailed
from collectors.http import BearerAuth, make_client
from collectors.registry import build_collector
from collectors.runner import run_collector
from foundation.settings import CollectorSettings, Settings
from metrics.facts import refresh_pending
from tests.collectors.fixture_api import FixtureApi
from tests.collectors.sources import SAAS

TOKEN_URL = "https://example.my.salesforce.com/services/oauth2/token"
QUERY = "https://example.my.salesforce.com/services/data/v60.0/query"


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    from store.migrate import upgrade

    upgrade(sqlite_engine)
    return sqlite_engine


def rsa_pair() -> tuple[str, str]:
    """A throwaway RSA key pair (PEM private, PEM public), made for this test only."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_client_credentials_fetch_one_token_and_reuse_it() -> None:
    fake = FixtureApi("salesforce")
    provider = OAuthTokenProvider(
        TOKEN_URL,
        ClientCredentialsGrant("3MVG9-test-consumer-key", "cs-test-secret"),
        transport=fake.transport(),
    )
    with make_client(
        "", BearerAuth(provider.token, refresh=provider.refresh), transport=fake.transport()
    ) as client:
        for _ in range(3):
            assert client.get(QUERY, params={"q": "SELECT Id FROM Account"}).status_code == 200
    assert fake.auth.token_requests == [
        {
            "grant_type": "client_credentials",
            "client_id": "3MVG9-test-consumer-key",
            "client_secret": "cs-test-secret",
        }
    ]
    assert provider.instance_url == "https://example.my.salesforce.com"
    assert "cs-test-secret" not in repr(provider)


def test_an_expired_session_is_refreshed_once_and_the_request_sent_again() -> None:
    fake = FixtureApi("salesforce")
    provider = OAuthTokenProvider(
        TOKEN_URL,
        ClientCredentialsGrant("3MVG9-test-consumer-key", "cs-test-secret"),
        transport=fake.transport(),
    )
    with make_client(
        "", BearerAuth(provider.token, refresh=provider.refresh), transport=fake.transport()
    ) as client:
        assert client.get(QUERY, params={"q": "SELECT Id FROM Account"}).status_code == 200
        fake.auth.expire_next_token_use = True
        response = client.get(QUERY, params={"q": "SELECT Id FROM Account"})
    assert response.status_code == 200
    assert len(fake.auth.token_requests) == 2  # the first token, then one refresh
    assert [status for _, status in fake.log] == [200, 401, 200]


def test_revoked_credentials_fail_each_stream_after_a_single_refresh(store: Engine) -> None:
    fake = FixtureApi("salesforce")
    fake.reject_all = True
    spec = SAAS["salesforce"]
    settings = Settings(
        database_url="sqlite://",
        collectors={"salesforce": CollectorSettings(base_url=spec["url"])},
        secrets={"salesforce_client_secret": SecretStr("cs-test-secret")},
    )
    collector = build_collector(
        "salesforce", settings, transport=fake.transport(), options={"salesforce": spec["options"]}
    )
    report = run_collector(store, collector, refresh=refresh_pending)
    assert report.status == "failed"
    streams = len(report.streams)
    assert (
        len(fake.auth.token_requests) == 1 + streams
    )  # one token, one refresh per refused request
    assert [s for _, s in fake.log] == [401, 401] * streams
    assert "cs-test-secret" not in (report.error or "")


def test_a_refused_client_secret_is_an_auth_failure_naming_the_oauth_error() -> None:
    fake = FixtureApi("salesforce")
    provider = OAuthTokenProvider(
        TOKEN_URL,
        ClientCredentialsGrant("3MVG9-test-consumer-key", "not-the-secret"),
        transport=fake.transport(),
    )
    with pytest.raises(AuthFailed) as caught:
        provider.token()
    message = str(caught.value)
    assert "invalid_client" in message and "HTTP 400" in message
    assert "not-the-secret" not in message


def test_a_missing_client_secret_fails_the_run_with_the_variable_to_set(store: Engine) -> None:
    settings = Settings(
        database_url="sqlite://",
        collectors={"salesforce": CollectorSettings(base_url=SAAS["salesforce"]["url"])},
    )
    collector = build_collector(
        "salesforce",
        settings,
        transport=FixtureApi("salesforce").transport(),
        options={"salesforce": {"client_id": "x"}},
    )
    report = run_collector(store, collector, refresh=refresh_pending)
    assert report.status == "failed"
    assert "THROUGHLINE_SECRETS__SALESFORCE_CLIENT_SECRET" in (report.error or "")


def test_the_jwt_bearer_assertion_is_rs256_signed_with_the_documented_claims() -> None:
    private, public = rsa_pair()
    fake = FixtureApi("salesforce", public_key=public)
    grant = JwtBearerGrant("3MVG9-test-consumer-key", "integration@example.com", private)
    now = time.time()
    provider = OAuthTokenProvider(
        "https://login.salesforce.com/services/oauth2/token",
        grant,
        transport=fake.transport(),
        clock=lambda: now,
    )
    assert provider.token().startswith("00DS7000000TEST1!AR8AQFAKE.jwt.bearer.token")
    (form,) = fake.auth.token_requests
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header = jwt.get_unverified_header(form["assertion"])
    claims = jwt.decode(
        form["assertion"],
        public,
        algorithms=["RS256"],
        audience="https://login.salesforce.com",
        options={"verify_exp": False},
    )
    assert header["alg"] == "RS256"
    assert claims == {
        "iss": "3MVG9-test-consumer-key",
        "sub": "integration@example.com",
        "aud": "https://login.salesforce.com",
        "exp": int(now) + JWT_LIFETIME_SECONDS,
    }
    assert "PRIVATE KEY" not in repr(grant)


def test_an_assertion_signed_with_another_key_is_refused() -> None:
    private, _ = rsa_pair()
    _, other_public = rsa_pair()
    fake = FixtureApi("salesforce", public_key=other_public)
    grant = JwtBearerGrant("3MVG9-test-consumer-key", "integration@example.com", private)
    provider = OAuthTokenProvider(
        "https://login.salesforce.com/services/oauth2/token", grant, transport=fake.transport()
    )
    with pytest.raises(AuthFailed, match="invalid_client"):
        provider.token()


def test_the_salesforce_connector_collects_with_a_jwt_bearer_token(
    store: Engine, tmp_path: object
) -> None:
    private, public = rsa_pair()
    fake = FixtureApi("salesforce", public_key=public)
    options = {
        "auth": "jwt_bearer",
        "client_id": "3MVG9-test-consumer-key",
        "username": "integration@example.com",
    }
    settings = Settings(
        database_url="sqlite://",
        collectors={"salesforce": CollectorSettings(base_url=SAAS["salesforce"]["url"])},
        secrets={"salesforce_private_key": SecretStr(private)},
    )
    collector = build_collector(
        "salesforce", settings, transport=fake.transport(), options={"salesforce": options}
    )
    report = run_collector(store, collector, refresh=refresh_pending)
    assert report.status == "success", report.error
    assert report.rows_written > 0 and len(fake.auth.token_requests) == 1


def test_a_token_with_an_expiry_is_fetched_again_when_it_runs_out() -> None:
    now = [0.0]

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"access_token": f"t{now[0]}", "expires_in": 3600, "token_type": "Bearer"}
        )

    provider = OAuthTokenProvider(
        TOKEN_URL,
        ClientCredentialsGrant("id", "secret"),
        transport=httpx.MockTransport(token_endpoint),
        monotonic=lambda: now[0],
    )
    assert provider.token() == "t0.0"
    now[0] = 3000.0
    assert provider.token() == "t0.0"  # still valid (refreshed 60 s before expiry)
    now[0] = 3545.0
    assert provider.token() == "t3545.0"


# --- NetSuite token-based authentication --------------------------------------------------------

NETSUITE_STEP_ONE = (  # NetSuite Help Center, "Constructing the Signature for Step One of the
    # TBA Authorization Flow" (section_157652390285), "Signature Base String Example for Step One"
    "POST&https%3A%2F%2F1234567.restlets.api.netsuite.com%2Frest%2Frequesttoken&oauth_callback%3D"
    "https%253A%252F%252Fmy.example.com%252FTBA%252F%253FcallbackRequest%26oauth_consumer_key%3D"
    "60712990bc09623786e7047c226bcb3f86d49dca0b04efc21001dc76d97a81f5%26oauth_nonce%3D"
    "bUvpxBX93OWo0FLswq5M%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1575998103"
    "%26oauth_version%3D1.0%26role%3D45678"
)


def test_the_base_string_matches_netsuites_documented_example() -> None:
    key = "60712990bc09623786e7047c226bcb3f86d49dca0b04efc21001dc76d97a81f5"
    oauth = {
        "oauth_callback": "https://my.example.com/TBA/?callbackRequest",
        "oauth_consumer_key": key,
        "oauth_nonce": "bUvpxBX93OWo0FLswq5M",
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": "1575998103",
        "oauth_version": "1.0",
        "role": "45678",
        "realm": "1234567",
    }
    base = signature_base_string(
        "POST", "https://1234567.restlets.api.netsuite.com/rest/requesttoken", oauth
    )
    assert base == NETSUITE_STEP_ONE
    # step one signs with the consumer secret and an empty token secret (hand-computed)
    expected = base64.b64encode(
        hmac.new(f"{key}&".encode(), NETSUITE_STEP_ONE.encode(), hashlib.sha256).digest()
    ).decode()
    assert hmac_sha256_signature(base, key, "") == expected


def test_the_base_string_normalises_parameters_as_rfc_5849_shows() -> None:
    # RFC 5849 §3.4.1.1: query, header and form-body parameters, encoded twice, sorted
    base = signature_base_string(
        "POST",
        "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
        {
            "realm": "Example",
            "oauth_consumer_key": "9djdj82h48djs9d2",
            "oauth_token": "kkk9d7dh3k39sjv7",
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": "137131201",
            "oauth_nonce": "7d8f3e4a",
        },
        [("c2", ""), ("a3", "2 q")],
    )
    assert base == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D"
        "%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce"
        "%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26"
        "oauth_token%3Dkkk9d7dh3k39sjv7"
    )


def test_the_base_string_reproduces_rfc_5849s_signed_example() -> None:
    # RFC 5849 §1.2: the photos request and its published signature (HMAC-SHA1, computed here
    # over our base string with the documented secrets)
    base = signature_base_string(
        "GET",
        "http://photos.example.net/photos?file=vacation.jpg&size=original",
        {
            "oauth_consumer_key": "dpf43f3p2l4k3l03",
            "oauth_token": "nnch734d00sl2jdk",
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": "137131202",
            "oauth_nonce": "chapoH",
        },
    )
    digest = hmac.new(b"kd94hf93k423kf44&pfkkdhi9sl3r4s00", base.encode(), hashlib.sha1).digest()
    assert base64.b64encode(digest).decode() == "MdpQcU8iPSUjWoN/UDMsK2sui9I="


def test_the_authorization_header_carries_the_realm_and_a_verifiable_signature() -> None:
    signer = NetSuiteTokenAuth(
        "1234567_SB1",
        "ck-test",
        "cs-test",
        "tk-test",
        "ts-test",
        nonce=lambda: "fjaLirsIcCGVZWzBX0pg",
        timestamp=lambda: "1508242306",
    )
    url = httpx.URL(
        "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/"
        "suiteql?limit=2&offset=0"
    )
    header = signer.authorization("POST", url, b'{"q": "SELECT 1"}', "application/json")
    assert header.startswith('OAuth realm="1234567_SB1", oauth_consumer_key="ck-test", ')
    oauth = {
        "oauth_consumer_key": "ck-test",
        "oauth_token": "tk-test",
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": "1508242306",
        "oauth_nonce": "fjaLirsIcCGVZWzBX0pg",
        "oauth_version": "1.0",
    }
    base = signature_base_string("POST", url, oauth)  # a JSON body is not signed
    assert "limit%3D2%26" in base and "offset%3D0" in base
    expected = base64.b64encode(
        hmac.new(b"cs-test&ts-test", base.encode(), hashlib.sha256).digest()
    ).decode()
    assert f'oauth_signature="{percent_encode(expected)}"' in header
    assert "cs-test" not in repr(signer) and "ts-test" not in repr(signer)


def test_a_signed_request_is_accepted_and_a_wrong_secret_refused() -> None:
    fake = FixtureApi("netsuite")
    url = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql"
    body = {"q": "SELECT * FROM customer ORDER BY lastmodifieddate, id"}
    good = NetSuiteTokenAuth("1234567_SB1", "ck-test", "cs-test", "tk-test", "ts-test")
    bad = NetSuiteTokenAuth("1234567_SB1", "ck-test", "cs-test", "tk-test", "not-it")
    with make_client("", good, transport=fake.transport()) as client:
        assert client.post(url, params={"limit": 5, "offset": 0}, json=body).status_code == 200
    with make_client("", bad, transport=fake.transport()) as client:
        assert client.post(url, params={"limit": 5, "offset": 0}, json=body).status_code == 401


def test_the_realm_is_the_account_id_in_upper_case_with_underscores() -> None:
    assert netsuite_realm("1234567-sb1") == "1234567_SB1"
    assert netsuite_realm("1234567") == "1234567"


def test_percent_encoding_follows_rfc_3986_unreserved_characters() -> None:
    assert percent_encode("a b+c/~-._*") == "a%20b%2Bc%2F~-._%2A"
    assert percent_encode("ü") == "%C3%BC"
