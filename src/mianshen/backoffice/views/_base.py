"""What every back-office view does first: log-in, a staff profile, the second factor, the role, the district,
read-only auditors.

Order of the checks, so that nothing leaks: not logged in → the login page; no staff profile → 403; a second
factor enrolled or required but not yet typed in this session → its page (``views.signin``); an auditor
writing → 403 (except to its own account: ``own_account``); a city-wide action the role lacks → 403; then the view looks its object up through the user's
scope (another district's object → 404) and only then asks whether the role may act on it (→ 403).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mianshen.cases.models import Case
from mianshen.core.errors import Refusal
from mianshen.staff.second_factor import Step, second_factor_step

from ..roles import Perm, Staff, can, can_act, staff_of, visible_cases

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PAGE_SIZE = 25

View = Callable[..., HttpResponse]


def staff_view(
    *, methods: tuple[str, ...] = ("GET",), perm: Perm | None = None, own_account: bool = False
) -> Callable[[View], View]:
    """Decorate a view: log-in required, staff only, the second factor verified where needed, ``methods``
    only, auditors never write (but to their own account: ``own_account``), and the city-wide ``perm`` if
    given. The staff profile is set on ``request.staff``."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("backoffice:login"))
            staff = staff_of(request.user)
            if staff is None:
                raise PermissionDenied("no staff profile")
            step = second_factor_step(request.user)
            if step is not None:
                return redirect(step_url(step, request.get_full_path()))
            if request.method not in SAFE_METHODS and staff.read_only and not own_account:
                raise PermissionDenied("read-only role")
            if perm is not None and not can(request.user, perm):
                raise PermissionDenied(f"role {staff.role} may not {perm}")
            request.staff = staff  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return never_cache(require_http_methods(list(methods))(wrapped))

    return decorate


def step_url(step: Step, next_url: str) -> str:
    """The page of the second-factor ``step``, coming back to ``next_url``."""
    return f"{reverse('backoffice:sign_in_' + step.value)}?{urlencode({'next': next_url})}"


def staff(request: HttpRequest) -> Staff:
    return request.staff  # type: ignore[attr-defined]


def actor(request: HttpRequest) -> str:
    return request.user.get_username()


def case_or_404(request: HttpRequest, pk: int) -> Case:
    """The case if the user may see it; another district's case is not found."""
    return get_object_or_404(visible_cases(request.user).select_related("last_round__snapshot"), pk=pk)


def require_perm(request: HttpRequest, case: Case, perm: Perm) -> None:
    if not can_act(request.user, case, perm):
        raise PermissionDenied(f"may not {perm} on case {case.pk}")


def paginate(request: HttpRequest, items: Any, per_page: int | None = None) -> Page:
    return Paginator(items, per_page or PAGE_SIZE).get_page(request.GET.get("page"))


def refusal_text(exc: Exception) -> str:
    """A service's refusal for the page: in the active language (``core.errors.Refusal``), else its one line."""
    return exc.text() if isinstance(exc, Refusal) else str(exc)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"
