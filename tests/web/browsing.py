"""Pages and forms read the way a browser reads them, and a test client that fills them in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from io import BytesIO
from urllib.parse import urlsplit

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

PASSWORD = "riktig hest batteri stift"  # long enough for the 12-character rule


@dataclass(frozen=True)
class Attachment:
    """A file to upload; sent afresh on every post."""

    filename: str
    data: bytes


def _multipart(data: dict) -> tuple[bytes, str]:
    """The body and content type of a form with files, made in memory (the test client would
    leave a temporary file open for a large one)."""
    files = {
        k: FileStorage(BytesIO(v.data), v.filename) if isinstance(v, Attachment) else v
        for k, v in data.items()
    }
    boundary, body = encode_multipart(MultiDict(files))
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class Form:
    """A form of a page: where it goes and the values a browser would send unchanged."""

    action: str
    method: str
    fields: dict


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[Form] = []
        self._open = False
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(a.get("action") or "", (a.get("method") or "get").lower(), {}))
            self._open = True
        elif not self._open:
            return
        elif tag == "input" and a.get("name"):
            self._input(a)
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            if "selected" in a or self._select not in self.forms[-1].fields:
                self.forms[-1].fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.forms[-1].fields[self._textarea] = ""

    def _input(self, a: dict):
        kind, fields = a.get("type", "text"), self.forms[-1].fields
        if kind in ("submit", "button") or (kind in ("checkbox", "radio") and "checked" not in a):
            return
        if kind == "checkbox":  # ticked boxes of one name make a list
            fields.setdefault(a["name"], []).append(a.get("value", "on"))
        elif a["name"] in fields:  # several inputs of one name: a browser sends them all
            before = fields[a["name"]]
            fields[a["name"]] = [
                *(before if isinstance(before, list) else [before]),
                a.get("value", ""),
            ]
        else:
            fields[a["name"]] = a.get("value", "")

    def handle_data(self, data):
        if self._textarea:
            self.forms[-1].fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def page_forms(html: str) -> list[Form]:
    """The forms of a page."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


class Browser:
    """A test client used like a browser: forms are read from the page they were shown on."""

    def __init__(self, client):
        self.client = client

    def get(self, url: str, **kwargs):
        return self.client.get(url, buffered=True, **kwargs)

    def csrf_token(self) -> str:
        """The token every form of this browser's session carries (the login page is harmless)."""
        return page_forms(self.get("/login").text)[0].fields["csrf_token"]

    def post(self, url: str, data: dict | None = None, *, token: bool = True, **kwargs):
        """Post `data`, with the session's CSRF token unless `token` is false."""
        data = dict(data or {})
        if token:
            data.setdefault("csrf_token", self.csrf_token())
        if any(isinstance(value, Attachment) for value in data.values()):
            data, kwargs["content_type"] = _multipart(data)
        return self.client.post(url, data=data, buffered=True, **kwargs)

    def send(self, method: str, url: str, form: dict | None = None, **kwargs):
        """A GET, a DELETE (the FHIR API's only one: no form), or a POST of `form`."""
        if method == "GET":
            return self.get(url, **kwargs)
        if method == "DELETE":
            return self.client.delete(url, buffered=True, **kwargs)
        return self.post(url, form, **kwargs)

    def form(self, page, action: str) -> Form:
        """The form of `page` that posts to `action`."""
        found = [f for f in page_forms(page.text) if f.action == action]
        assert found, f"no form posts to {action} on this page"
        return found[0]

    def submit(self, page, action: str, **fields):
        """Fill in the form of `page` that posts to `action` and send it."""
        form = self.form(page, action)
        # A form without an action posts to the page's own address, query string and all.
        target = action or page.request.full_path.rstrip("?")
        return self.post(target, {**form.fields, **fields}, token=False)


def _texts(html: str, pattern: str) -> list[str]:
    found = re.findall(pattern, html, flags=re.DOTALL)
    return [unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found]


def flashes(page) -> list[str]:
    """The messages shown at the top of a page after an action."""
    return _texts(page.text, r'<p class="flash[^"]*"[^>]*>(.*?)</p>')


def errors(page) -> list[str]:
    """The error messages shown beside the forms of a page."""
    return _texts(page.text, r'<(?:p|span) class="errors[^"]*"[^>]*>(.*?)</(?:p|span)>')


def visible_text(page) -> str:
    """The page as a nurse reads it: text without tags, entities decoded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", "", page.text, flags=re.DOTALL)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def check_security_headers(response) -> None:
    """The headers every response carries, whatever its status."""
    policy = dict(
        (d.strip().split(" ", 1) + [""])[:2]
        for d in response.headers.get("Content-Security-Policy", "").split(";")
        if d.strip()
    )
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, policy
    assert policy.get("frame-ancestors") == "'none'", policy
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in (
        "no-referrer",
        "same-origin",
        "strict-origin-when-cross-origin",
    )


def path_of(app, case, values: dict) -> str:
    """The path of a route case with its arguments filled in."""
    return app.url_map.bind("localhost").build(case.endpoint, values, method=case.method)


def goes_to_login(answer) -> bool:
    """The answer sends the browser to the login page."""
    return answer.status_code == 302 and urlsplit(answer.location).path == "/login"
