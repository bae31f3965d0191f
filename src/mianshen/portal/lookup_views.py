"""/lookup/: credit code → a code to the phone(s) on file → the unit's own case (contracts §4)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import lookup, services
from .services import CodeCheck


def _render(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, "portal/lookup.html", context, status=status)


@require_http_methods(["GET", "POST"])
def lookup_page(request: HttpRequest) -> HttpResponse:
    """Step 1: the credit code; step 2: the code sent; then the unit's own case while the session lasts."""
    units = lookup.session_units(request.session)
    context: dict[str, Any] = {"step": "credit_code", "credit_code": "", "errors": {}}
    action = str(request.POST.get("action", "")) if request.method == "POST" else ""
    if action == "signout":
        lookup.session_close(request.session)
        return redirect("portal:lookup")
    if request.method == "GET" and units:
        context.update(step="case", cases=lookup.lookup_cases(units, get_language() or "zh-hans"))
        return _render(request, context)
    if request.method == "GET":
        return _render(request, context)
    typed = str(request.POST.get("credit_code", ""))[:40]
    credit_code = lookup.normalise_credit_code(typed)
    context["credit_code"] = credit_code or typed
    if not credit_code:
        context["errors"] = {"credit_code": _("请输入 18 位统一社会信用代码（数字和大写字母）")}
        return _render(request, context, 400)
    if action == "code":
        signin = lookup.lookup_code_check(credit_code, str(request.POST.get("code", ""))[:20])
        if signin.result == CodeCheck.OK:
            lookup.session_open(request.session, signin.unit_ids)
            return redirect("portal:lookup")
        context.update(step="code", errors={"code": signin.result.message})
        return _render(request, context, 400)
    if not services.address_allowed(services.client_address(request), "lookup"):
        context["errors"] = {"credit_code": _("请求过于频繁，请一小时后再试")}
        return _render(request, context, 429)
    lookup.lookup_code_request(credit_code)
    context["step"] = "code"
    return _render(request, context)
