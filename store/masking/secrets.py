"""Credentials inside free text: what follows a secret's label (`password=…`, `api key: …`,
`"token": "…"`, `Authorization: Bearer …`, `Cookie: …`), bearer and basic credentials, the
well-known prefixed keys (Stripe, GitHub, Slack, AWS, Google, GitLab, npm, OpenAI, SendGrid,
HubSpot, Shopify, Salesforce sessions), JSON Web Tokens, private key blocks and passwords in
URLs (`https://user:password@host`).

Labels are read as `keys.label_kind` reads them: the label must end with a secret or card key
word, so `password: …` and `newPassword=…` hide their value but `password reset link: …` and
`tokenizer_version=…` do not. Every finder is linear in the length of the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from store.masking.keys import KEY_WORDS, label_kind
from store.masking.patterns import trie

Span = tuple[int, int]

#: Keys whose vendor prefix names them: the prefix and the pattern of the rest.
VENDOR_KEYS = {
    **dict.fromkeys(("sk_live_", "sk_test_", "rk_live_", "rk_test_"), "[0-9A-Za-z]{10,}+"),
    "whsec_": "[0-9A-Za-z]{16,}+",  # Stripe
    **dict.fromkeys(("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), "[0-9A-Za-z]{20,}+"),
    "github_pat_": r"\w{20,}+",  # GitHub
    **dict.fromkeys(("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxr-", "xoxs-"), "[0-9A-Za-z-]{10,}+"),
    **dict.fromkeys(("AKIA", "ASIA"), "[0-9A-Z]{16}(?![0-9A-Z])"),  # AWS access key ids
    "AIza": "[0-9A-Za-z_-]{35}",  # Google API keys
    "glpat-": "[0-9A-Za-z_-]{20,}+",  # GitLab
    "npm_": "[0-9A-Za-z]{36}",  # npm
    "sk-": "(?:proj-|ant-)?[0-9A-Za-z_-]{20,}+",  # OpenAI, Anthropic
    "SG.": r"[\w-]{16,}+\.[\w-]{16,}+",  # SendGrid
    **dict.fromkeys(("pat-na1-", "pat-eu1-"), "[0-9a-f-]{36}"),  # HubSpot private apps
    **dict.fromkeys(("shpat_", "shpss_", "shpca_", "shppa_"), "[0-9a-fA-F]{32}"),  # Shopify
    "00D": r"\w{12,15}![\w.]{20,}+",  # Salesforce session ids
    "eyJ": r"[\w-]{5,}+\.[\w-]{5,}+(?:\.[\w-]*+)?",  # JSON Web Tokens (JWS compact form)
}
#: A vendor key, not glued to a longer word (so a long run is read from its start only).
PREFIXED_KEYS = re.compile(r"(?<![\w-])" + trie(VENDOR_KEYS))
PRIVATE_KEY = re.compile(
    r"-----BEGIN[A-Z ]{0,20}PRIVATE KEY-----(?:[A-Za-z0-9+/=:, \t\r\n]|-(?!----END))*+"
    r"(?:-----END[A-Z ]{0,20}PRIVATE KEY-----)?"
)
URL_PASSWORD = re.compile(r"://[^\s/@:]*+:(?P<password>[^\s/@]++)@")
#: `Bearer …`/`Basic …` (read in the case-folded text) followed by something shaped like a
#: credential (see `_credential`); the character before must not be a letter.
SCHEME_CREDENTIAL = re.compile(r"b(?:earer|asic)[ \t]++(?P<credential>[a-z0-9._~+/=-]{6,}+)")
_AUTH_SCHEMES = "bearer|basic|token|digest|negotiate|ntlm|oauth|apikey|bot"
#: A label's last word ending in a secret or card key word (read in the case-folded text),
#: then `:` or `=`, quotes allowed (`"password": …`). `label_kind` checks the whole label.
_LABEL_END = re.compile(
    trie({w: "" for w, k in KEY_WORDS.items() if k in ("secret", "card")}, r"[\W_]?")
    + r"[\"']?[ \t]*[:=][ \t]*"
)
_LABEL_HEAD = re.compile(r"[\w.-]{0,64}")  # read backwards, on the reversed text
_LABEL_TRIM = re.compile(r"[\"'\s:=]+\Z")
_VALUE = re.compile(
    rf"(?:(?i:{_AUTH_SCHEMES})[ \t]+)?"
    r"(?:\"(?P<dq>[^\"\r\n]*+)\"|'(?P<sq>[^'\r\n]*+)'|(?P<bare>[^\s,;&\"'<>(){}\[\]]++))"
)
_REST_OF_LINE = re.compile(r"[^\r\n\"]++")


#: What every credential above needs somewhere in the lower-cased text: a label's `:` or `=`,
#: a scheme word, a vendor prefix or a private key header. Text without any is skipped at once.
_HINT_PATTERN = "[:=]|" + trie(
    dict.fromkeys([*(p.lower() for p in VENDOR_KEYS), "bearer", "basic", "-----begin"], "")
)
_HINT = re.compile(_HINT_PATTERN)
_VENDOR_HINT = re.compile(trie(dict.fromkeys((p.lower() for p in VENDOR_KEYS), "")))


def secret_spans(text: str, folded: str) -> Iterator[Span]:
    """Spans of credentials in `text` (the label, scheme and quotes around them stay);
    `folded` is `patterns.lower(text)`."""
    if _HINT.search(folded) is None:
        return
    if _VENDOR_HINT.search(folded) is not None:
        yield from (match.span() for match in PREFIXED_KEYS.finditer(text))
    if "-----begin" in folded:
        yield from (match.span() for match in PRIVATE_KEY.finditer(text))
    if "://" in text:
        yield from (match.span("password") for match in URL_PASSWORD.finditer(text))
    for match in SCHEME_CREDENTIAL.finditer(folded):
        start, end = match.span("credential")
        if match.start() and text[match.start() - 1].isalpha():
            continue
        if _credential(text[start:end]):
            yield start, end
    yield from _labelled_spans(text, folded)


def _credential(value: str) -> bool:
    """Whether a word after `Bearer`/`Basic` is a credential rather than prose: it has a digit,
    a symbol or a capital after its first letter, or it is 24 characters or longer."""
    return len(value) >= 24 or not (value.isalpha() and value[1:].islower())


def _labelled_spans(text: str, folded: str) -> Iterator[Span]:
    """The values after secret and card labels; a value is read only after such a label and
    then skipped, so each character is read a bounded number of times."""
    pos = 0
    backwards = ""
    while (match := _LABEL_END.search(folded, pos)) is not None:
        pos = match.end()
        backwards = backwards or text[::-1]
        head = _LABEL_HEAD.match(backwards, len(text) - match.start())
        start = match.start() - (0 if head is None else head.end() - head.start())
        label = _LABEL_TRIM.sub("", text[start : match.end()])
        kind = label_kind(label)
        if kind is None:
            continue
        if label.lower().endswith("cookie"):
            value = _REST_OF_LINE.match(text, pos)
            if value is not None:
                yield value.span()
                pos = value.end()
            continue
        value = _VALUE.match(text, pos)
        if value is None:
            continue
        group = value.lastgroup or "bare"
        yield value.span(group)
        pos = value.end()
