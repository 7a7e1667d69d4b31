"""The one door every page read goes through: views declared with `@view`.

A view is a page-facing function whose first parameter is the visitor's `Access`. The
decorator makes the rules structural rather than a habit of each page:

- a call without an `Access` is refused (a page cannot forget who is asking);
- every `Filters` argument is narrowed to the visitor's practices (`Access.scope`);
- the result is masked for the visitor's role (`metrics.views.access.mask`), so the screen and the
  CSV and Excel exports made from it hold the same values.

A view that finds records by key rather than by filters (a case by URL or search, an attempt
by id) limits that lookup itself with `Access.allows` or `Access.practice_clause`. Every view
is listed in `VIEWS`; ``tests/test_views_enforce.py`` calls each one the pages use on a store
seeded with sentinel records of two practices and checks scope and masking.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from metrics.kpis.common import Filters
from metrics.views.access import Access, mask

P = ParamSpec("P")
R = TypeVar("R")

#: Every view, by ``module.name``.
VIEWS: dict[str, Callable[..., Any]] = {}


class AccessDenied(PermissionError):
    """The visitor's role may open none of the pages a view serves."""


def view(
    *pages: str,
) -> Callable[[Callable[Concatenate[Access, P], R]], Callable[Concatenate[Access, P], R]]:
    """Declare a view serving `pages` (keys of `throughline.ui.PAGES`; none: every page): it
    refuses a role that may open none of them, and is scoped and masked for the `Access` it
    is called with."""

    def declare(fn: Callable[Concatenate[Access, P], R]) -> Callable[Concatenate[Access, P], R]:
        parameters = list(inspect.signature(fn).parameters)
        if not parameters or parameters[0] != "access":
            raise TypeError(f"view {fn.__qualname__} must take the visitor's access first")

        @functools.wraps(fn)
        def guarded(access: Access, /, *args: P.args, **kwargs: P.kwargs) -> R:
            if not isinstance(access, Access):
                raise TypeError(f"{fn.__qualname__} needs the visitor's Access first")
            if pages and not any(access.can_open(page) for page in pages):
                raise AccessDenied(f"the {access.role} role cannot read {fn.__name__}")
            scoped = tuple(_scoped(access, a) for a in args)
            named = {k: _scoped(access, v) for k, v in kwargs.items()}
            return mask(fn(access, *scoped, **named), access)

        guarded.pages = pages  # type: ignore[attr-defined]
        VIEWS[f"{fn.__module__}.{fn.__qualname__}"] = guarded
        return guarded

    return declare


def _scoped(access: Access, value: Any) -> Any:
    return access.scope(value) if isinstance(value, Filters) else value


def is_view(fn: object) -> bool:
    """Whether `fn` is a declared view."""
    return any(fn is v for v in VIEWS.values())
