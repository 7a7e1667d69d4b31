"""HubSpot owners: a deal's ``hubspot_owner_id`` → the owner's name (or email), read once a run.

API: ``GET /crm/v3/owners?limit=100&after=…``
(https://developers.hubspot.com/docs/api-reference/latest/crm/owners/get-owners): ``results[]``
with ``id`` (the owner id records carry), ``email``, ``firstName``, ``lastName``, ``userId``,
``archived`` and ``teams``; ``paging.next.after`` while more pages follow. Without
``archived=true`` only active owners are listed, so a deactivated user's deals keep the owner id,
as does an id the list does not know. Scope ``crm.objects.owners.read``: a token without it
(HTTP 403) leaves every owner an id, with a warning, rather than failing the deals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from collectors.base import Record
from collectors.errors import AuthFailed, SchemaDrift
from collectors.paging import PageTokenPaginator, iter_pages, lookup

log = logging.getLogger("throughline.collectors")

OWNER_KEY = "_owner"  # where the fetch puts a deal's resolved owner
PAGE_SIZE = 100
PATH = "crm/v3/owners"


@dataclass(frozen=True)
class Owner:
    """One HubSpot owner (a user records can be assigned to)."""

    id: str
    name: str | None
    email: str | None

    @property
    def label(self) -> str:
        """How the owner is shown: the name, else the email, else the id."""
        return self.name or self.email or self.id


def _owner(result: dict[str, Any]) -> Owner:
    names = [str(result[k]).strip() for k in ("firstName", "lastName") if result.get(k)]
    email = result.get("email")
    return Owner(
        str(result["id"]), " ".join(n for n in names if n) or None, str(email) if email else None
    )


def load_owners(client: httpx.Client) -> dict[str, Owner]:
    """Every active owner by id, through all pages."""
    owners: dict[str, Owner] = {}
    paginator = PageTokenPaginator("paging.next.after", "after")
    for payload, index in iter_pages(client, paginator, "GET", PATH, params={"limit": PAGE_SIZE}):
        results = lookup(payload, "results") if isinstance(payload, dict) else None
        if not isinstance(results, list):
            raise SchemaDrift(f"owners page {index + 1} has no 'results' list")
        for result in results:
            if isinstance(result, dict) and result.get("id") not in (None, ""):
                owner = _owner(result)
                owners[owner.id] = owner
    return owners


class OwnerDirectory:
    """The account's owners, read on first use and kept for the rest of the run."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self._owners: dict[str, Owner] | None = None

    def get(self, owner_id: str) -> Owner | None:
        if self._owners is None:
            try:
                self._owners = load_owners(self._client)
            except AuthFailed as exc:
                if exc.status != 403:
                    raise
                log.warning(
                    "HubSpot owners are not readable (%s): owners stay ids; grant the"
                    " private app the crm.objects.owners.read scope",
                    exc,
                )
                self._owners = {}
        return self._owners.get(owner_id)

    def attach(self, records: list[Record]) -> None:
        """Put each record's resolved owner (``id``, ``label``) under ``_owner``."""
        for record in records:  # a malformed record is left as it is, for quarantine
            props = record.get("properties") if isinstance(record, dict) else None
            owner_id = props.get("hubspot_owner_id") if isinstance(props, dict) else None
            if not isinstance(owner_id, str | int) or owner_id == "":
                continue
            owner = self.get(str(owner_id))
            if owner is not None:
                record[OWNER_KEY] = {"id": owner.id, "label": owner.label}
