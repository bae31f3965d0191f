"""Signing in and out: the password (``SignInView``), then the second factor where it is needed (``verify``, or
``enrol`` for a user who must have one and has none), the password page, and signing out.

Before a password or a code is checked, the client address's throttling (429) and the account's lock are looked
at; every failure is counted and recorded (``staff.signin``). After the password the session is signed in but not
verified: ``staff_view`` sends it here until a code is typed (``django_otp.login`` marks it verified).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from mianshen.core import http
from mianshen.staff.second_factor import (
    Step,
    device_kind,
    second_factor_step,
    second_factor_verify,
    totp_confirm,
    totp_pending,
    totp_secret,
)
from mianshen.staff.services import staff_password_set
from mianshen.staff.signin import (
    Failure,
    Refused,
    sign_in_failure_record,
    sign_in_name,
    sign_in_refusal,
    sign_in_success_record,
    sign_out_record,
)

from ..forms import SecondFactorForm
from ._base import staff_view, step_url


def _locked_message() -> str:
    return _("该账户因多次登录失败已被锁定，请联系市级管理员解锁。")


def _throttled_message() -> str:
    return _("此地址登录失败次数过多，请稍后再试。")


def client_address(request: HttpRequest) -> str:
    """The client's address (``core.http.client_address``) behind the header named by ``SIGNIN_CLIENT_ADDRESS_HEADER``."""
    return http.client_address(request, settings.SIGNIN_CLIENT_ADDRESS_HEADER)


def safe_next(request: HttpRequest) -> str:
    """The ``next`` page if it is on this site, else the dashboard."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("backoffice:dashboard")


class SignInView(LoginView):
    """Django's log-in view, with the throttle and the lock checked before the password, every failure
    counted, and the second factor next when it is needed."""

    template_name = "backoffice/login.html"

    def get_default_redirect_url(self) -> str:
        return reverse("backoffice:dashboard")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        name = sign_in_name(str(request.POST.get("username", "")))
        refused = sign_in_refusal(name=name, address=client_address(request))
        if refused is Refused.THROTTLED:
            return self._refused(_throttled_message(), 429)
        if refused is Refused.LOCKED:
            sign_in_failure_record(name=name, address=client_address(request), failure=Failure.LOCKED)
            return self._refused(_locked_message(), 403)
        return super().post(request, *args, **kwargs)

    def _refused(self, message: str, status: int) -> HttpResponse:
        """The log-in page again, the password unchecked, with why."""
        form = self.get_form_class()(
            self.request, initial={"username": self.request.POST.get("username", "")}
        )
        return self.render_to_response(self.get_context_data(form=form, refusal=message), status=status)

    def form_invalid(self, form: Any) -> HttpResponse:
        outcome = sign_in_failure_record(
            name=str(self.request.POST.get("username", "")),
            address=client_address(self.request),
            failure=Failure.PASSWORD,
        )
        if outcome.locked:
            form.add_error(None, _locked_message())
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        next_url = self.get_success_url()
        step = second_factor_step(user)
        if step is None:  # recorded first: no one is signed in without a trace
            sign_in_success_record(user=user, address=client_address(self.request), second_factor="none")
        auth_login(self.request, user)
        return redirect(step_url(step, next_url) if step else next_url)


def _refusal_response(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse | None:
    """For the second-factor pages: throttled → 429; account locked meanwhile → signed out, to the log-in
    page; else None."""
    refused = sign_in_refusal(name=request.user.get_username(), address=client_address(request))
    if refused is Refused.THROTTLED:
        context["form"].add_error(None, _throttled_message())
        return render(request, template, context, status=429)
    if refused is Refused.LOCKED:
        return _sign_out_locked(request)
    return None


def _sign_out_locked(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.error(request, _locked_message())
    return redirect("backoffice:login")


def _second_factor_failed(request: HttpRequest, form: SecondFactorForm) -> HttpResponse | None:
    """Count a wrong code; a lock it causes signs the session out."""
    user = request.user
    outcome = sign_in_failure_record(name=user.get_username(), address=client_address(request),
                                     failure=Failure.SECOND_FACTOR, user_id=user.pk)  # fmt: skip
    if outcome.locked:
        return _sign_out_locked(request)
    form.add_error("token", _("验证码不正确，或已使用过。"))
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_verify(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the app or a recovery code."""
    if not request.user.is_authenticated:
        return redirect("backoffice:login")
    next_url = safe_next(request)
    step = second_factor_step(request.user)
    if step is not Step.VERIFY:
        return redirect(step_url(step, next_url) if step else next_url)
    template = "backoffice/sign_in_verify.html"
    form = SecondFactorForm(request.POST or None)
    context: dict[str, Any] = {"form": form, "next": next_url}
    if request.method == "POST":
        refusal = _refusal_response(request, template, context)
        if refusal is not None:
            return refusal
        if form.is_valid():
            device = second_factor_verify(user=request.user, token=form.cleaned_data["token"])
            if device is not None:
                sign_in_success_record(user=request.user, address=client_address(request),
                                       second_factor=device_kind(device))  # fmt: skip
                otp_login(request, device)
                return redirect(next_url)
            failed = _second_factor_failed(request, form)
            if failed is not None:
                return failed
    return render(request, template, context, status=422 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_enrol(request: HttpRequest) -> HttpResponse:
    """A user without a second factor sets one up: the secret for the app, a code typed back, the recovery
    codes shown once. Refused (to the verify step) once the user has a device: a password alone never adds
    one."""
    if not request.user.is_authenticated:
        return redirect("backoffice:login")
    next_url = safe_next(request)
    step = second_factor_step(request.user)
    if step is Step.VERIFY or getattr(request.user, "otp_device", None) is not None:
        return redirect(step_url(Step.VERIFY, next_url) if step else next_url)
    device = totp_pending(request.user)
    template = "backoffice/sign_in_enrol.html"
    form = SecondFactorForm(request.POST or None)
    context: dict[str, Any] = {"form": form, "next": next_url, "secret": totp_secret(device),
                               "uri": device.config_url, "required": step is Step.ENROL}  # fmt: skip
    if request.method == "POST":
        refusal = _refusal_response(request, template, context)
        if refusal is not None:
            return refusal
        if form.is_valid():
            codes = totp_confirm(user=request.user, token=form.cleaned_data["token"])
            if codes is not None:
                if step is Step.ENROL:  # part of signing in
                    sign_in_success_record(user=request.user, address=client_address(request),
                                           second_factor="totp")  # fmt: skip
                device.refresh_from_db()
                otp_login(request, device)
                return render(request, "backoffice/sign_in_codes.html", {"codes": codes, "next": next_url})
            failed = _second_factor_failed(request, form)
            if failed is not None:
                return failed
    return render(request, template, context, status=422 if form.errors else 200)


class SignOutView(LogoutView):
    def get_default_redirect_url(self) -> str:
        return reverse("backoffice:login")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            sign_out_record(user=request.user, address=client_address(request))
        return super().post(request, *args, **kwargs)


@staff_view(methods=("GET", "POST"), own_account=True)
def password_change(request: HttpRequest) -> HttpResponse:
    """Change one's own password; Django's validators (settings.AUTH_PASSWORD_VALIDATORS) decide."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        staff_password_set(user=request.user, password=form.cleaned_data["new_password1"],
                           actor=request.user.get_username())  # fmt: skip
        update_session_auth_hash(request, form.user)
        messages.success(request, _("密码已修改。"))
        return redirect("backoffice:dashboard")
    return render(
        request, "backoffice/password_change.html", {"form": form}, status=422 if form.errors else 200
    )
