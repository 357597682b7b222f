"""JSON:API page-number paging shared by the V3 list routes (connections, webhooks,
subscriptions): ``page[number]`` (1-based) and ``page[size]`` in, ``meta`` and ``links`` out.

The ``links`` keep the request's own query (filters included) and only swap the page number,
so a client can follow ``next`` without rebuilding its filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web

from app.integrations.smartcar.simulator.responses import Reject, v3_error

T = TypeVar("T")
MAX_PAGE_SIZE = 100


def base_url(request: web.Request) -> str:
    """Scheme, host and port the client used: every link points back at this simulator."""
    return str(request.url.origin())


def page_params(request: web.Request, default_size: int) -> tuple[int, int]:
    """``(number, size)``; anything but 1 <= number and 1 <= size <= 100 is 400 PARAMETER."""
    try:
        number = int(request.query.get("page[number]", 1))
        size = int(request.query.get("page[size]", default_size))
    except ValueError:
        number = size = 0
    if number < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise Reject(
            v3_error(
                request,
                "VALIDATION",
                "PARAMETER",
                detail=f"page[number] must be >= 1 and page[size] 1-{MAX_PAGE_SIZE}.",
            )
        )
    return number, size


def paged(
    request: web.Request, items: Sequence[T], default_size: int
) -> tuple[list[T], dict[str, Any], dict[str, Any]]:
    """One page of ``items`` plus the top-level ``meta`` and ``links`` of the list answer."""
    number, size = page_params(request, default_size)
    last = max(1, -(-len(items) // size))

    def link(n: int) -> str:
        return str(request.url.update_query({"page[number]": str(n), "page[size]": str(size)}))

    meta = {
        "pageNumber": number,
        "pageSize": size,
        "totalCount": len(items),
        "orderBy": "createdAt",
        "orderDirection": "DESC",
    }
    links = {
        "self": link(number),
        "first": link(1),
        "last": link(last),
        "next": link(number + 1) if number < last else None,
        "prev": link(number - 1) if 1 < number <= last + 1 else None,
    }
    return list(items[(number - 1) * size : number * size]), meta, links
