"""Walks the simulator's Connect pages over plain HTTP, the way a browser without JS would.

It reads the real HTML (form ids, button names/values) rather than knowing the URLs, so the
pages a user or the QtWebEngine view sees are what the test exercises.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, object]] = {}
        self._current: dict[str, object] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._current = {"action": a.get("action"), "method": a.get("method"), "buttons": []}
            self.forms[a.get("id") or ""] = self._current
        elif tag == "button" and self._current is not None:
            buttons = self._current["buttons"]
            assert isinstance(buttons, list)
            buttons.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def walk_connect(
    auth_url: str,
    *,
    email: str = "driver@example.com",
    password: str = "secret",
    make: str | None = None,
    decision: str = "allow",
    max_steps: int = 8,
) -> str:
    """Follow Connect from the authorize URL to the redirect back; returns that URL."""
    base = httpx.URL(auth_url)
    origin = f"{base.scheme}://{base.host}:{base.port}"
    with httpx.Client(follow_redirects=False, timeout=10) as http:
        response = http.get(auth_url)
        for _ in range(max_steps):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if not target.startswith(origin):
                    return target
                response = http.get(target)
                continue
            response.raise_for_status()
            parser = _Forms()
            parser.feed(response.text)
            if "brands" in parser.forms:
                form = parser.forms["brands"]
                buttons = form["buttons"]
                assert isinstance(buttons, list)
                chosen = make or buttons[0]["data-make"]
                data = {"make": chosen}
            elif "login-form" in parser.forms:
                form, data = parser.forms["login-form"], {"email": email, "password": password}
            elif "grant" in parser.forms:
                form, data = parser.forms["grant"], {"decision": decision}
            else:
                raise AssertionError(f"unexpected Connect page: {response.text[:200]}")
            response = http.post(urljoin(str(response.url), str(form["action"])), data=data)
    raise AssertionError("Connect did not redirect back")
