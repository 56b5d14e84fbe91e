"""Signing in to the dashboard with an API key, for servers that have keys.

A browser sends no ``Authorization`` header, so the key a person types at
``/login`` is kept in a cookie that stands for it (see :mod:`..auth`):
HttpOnly (no script reads it) and SameSite=Strict (no other site's page can
make the browser send it, so no cross-site form can act as the person).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..auth import KEY_COOKIE, LOGIN_PATH, key_refusal
from ..http import read_body
from ..state import server_state
from .render import render

_FORM_TYPE = "application/x-www-form-urlencoded"


def _next(value: str | None) -> str:
    """Where to go once signed in: a path of this server only (never another site)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def _form(
    request: Request, next_path: str, status: int = 200, error: str | None = None
) -> Response:
    return render(
        "login.html",
        status,
        title="Sign in",
        nav=[],
        path=LOGIN_PATH,
        next=next_path,
        error=error,
    )


async def login_page(request: Request) -> Response:
    return _form(request, _next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    state = server_state(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await read_body(request, 64 * 1024) if content_type == _FORM_TYPE else b""
    posted = parse_qs(raw.decode("utf-8", "replace"))
    key = (posted.get("key") or [""])[0].strip()
    next_path = _next((posted.get("next") or [""])[0])
    if not await state.store.has_api_keys():
        return RedirectResponse(next_path, 303)  # nothing to sign in to: every page is open
    if not key:
        return _form(request, next_path, 401, "Enter an API key (polos keys create prints one).")
    problem = await key_refusal(state.store, state.settings, key)
    if problem is not None:
        return _form(request, next_path, 401, problem[0].upper() + problem[1:] + ".")
    response = RedirectResponse(next_path, 303)
    response.set_cookie(
        KEY_COOKIE,
        key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse(LOGIN_PATH, 303)
    response.delete_cookie(KEY_COOKIE, path="/", httponly=True, samesite="strict")
    return response
