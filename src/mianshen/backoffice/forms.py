"""Back-office forms: they parse and check input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.cases.models import RAISED_BY, RECOMMENDATIONS, STATE_LABELS, ObjectionOutcome
from mianshen.cases.states import State
from mianshen.payments.models import ACTION_LABELS, BANK_FILE_STATUS_LABELS, Bank
from mianshen.payments.services.recovery import AccountInput
from mianshen.policy.parameters import policies
from mianshen.registry.models import Snapshot
from mianshen.screening.models import Checkpoint

from .payment_selectors import BankFileFilter, FailureFilter
from .roles import DISTRICTS
from .selectors import QueueFilter


def _policy_choices() -> list[tuple[str, str]]:
    return [(pid, f"{pid} {p.title}") for pid, p in sorted(policies().items())]


def _choices(form: forms.Form, name: str, choices: list[tuple[str, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class SnapshotChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"#{obj.pk} {obj.extracted_on:%Y-%m-%d} {obj.content_hash[:12]}"


class StartRoundForm(forms.Form):
    policy = forms.ChoiceField(label=_("政策"))
    snapshot = SnapshotChoice(
        queryset=Snapshot.objects.order_by("-id"), label=_("数据快照"), empty_label=None
    )
    as_of = forms.DateField(
        label=_("比对日"),
        required=False,
        help_text=_("留空则取快照的抽取日期"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    checkpoint = forms.ChoiceField(label=_("检查点"), choices=Checkpoint.choices, initial="ad_hoc")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "policy", _policy_choices())


class OpenNoticeForm(forms.Form):
    policy = forms.ChoiceField(label=_("政策"))
    start = forms.DateField(label=_("公示开始日"), widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(label=_("公示天数"), min_value=1, max_value=60, initial=7)
    title = forms.CharField(label=_("标题"), required=False, max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "policy", _policy_choices())
        self.fields["start"].initial = timezone.localdate()


class ObjectionForm(forms.Form):
    raised_by = forms.ChoiceField(label=_("提出方"), choices=RAISED_BY)
    contact = forms.CharField(label=_("联系方式"), max_length=200)
    grounds = forms.CharField(label=_("异议理由"), widget=forms.Textarea(attrs={"rows": 3}))


class ObjectionDecideForm(forms.Form):
    outcome = forms.ChoiceField(label=_("处理结果"), choices=ObjectionOutcome.choices)
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}))


class ReviewPrepareForm(forms.Form):
    recommendation = forms.ChoiceField(
        label=_("审核意见"),
        choices=RECOMMENDATIONS,
    )
    notes = forms.CharField(label=_("审核说明"), widget=forms.Textarea(attrs={"rows": 3}))


class ReviewDecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("复核结论"),
        choices=RECOMMENDATIONS,
    )
    reason = forms.CharField(label=_("理由"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == "approve"


class ConfirmationForm(forms.Form):
    confirmed_on = forms.DateField(label=_("确认日期"), widget=forms.DateInput(attrs={"type": "date"}))
    evidence = forms.CharField(label=_("确认材料"), widget=forms.Textarea(attrs={"rows": 2}))


class QueueFilterForm(forms.Form):
    """district / state / stage / text; which of them a queue offers is chosen by the view."""

    district = forms.ChoiceField(label=_("区"), required=False)
    state = forms.ChoiceField(label=_("状态"), required=False)
    stage = forms.ChoiceField(
        label=_("环节"),
        required=False,
        choices=[("", _("全部")), ("prepare", _("待初审")), ("decide", _("待复核"))],
    )
    q = forms.CharField(label=_("单位名称或编号"), required=False, max_length=100)

    def __init__(
        self,
        *args: Any,
        districts: list[str] | None = None,
        states: bool = True,
        stage: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        codes = sorted(DISTRICTS) if districts is None else districts
        _choices(self, "district", [("", _("全部")), *((c, f"{c} {DISTRICTS[c]}") for c in codes)])
        _choices(self, "state", [("", _("全部")), *((s.value, STATE_LABELS[s]) for s in State)])
        if not states:
            del self.fields["state"]
        if not stage:
            del self.fields["stage"]

    def filter(self) -> QueueFilter:
        """The filter to apply: the valid fields only (an invalid value is ignored, not an error page)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return QueueFilter(
            district=data.get("district") or "",
            state=data.get("state") or "",
            stage=data.get("stage") or "",
            q=(data.get("q") or "").strip(),
        )


# ---- payments ----------------------------------------------------------------------------------------------


def _bank_choices() -> list[tuple[str, str]]:
    return [
        (code, f"{code} {name}") for code, name in Bank.objects.order_by("code").values_list("code", "name")
    ]


class CorrectionPrepareForm(forms.Form):
    """A corrected account, or a re-send to the failed account (the service checks the account like a line of
    a bank file, and refuses a re-send after a failure on the account itself)."""

    kind = forms.ChoiceField(
        label=_("更正方式"),
        choices=[("account", _("登记更正账户")), ("resend", _("原账户重发"))],
        initial="account",
        widget=forms.RadioSelect,
    )
    bank_code = forms.ChoiceField(label=_("开户银行"), required=False)
    branch_code = forms.CharField(label=_("开户行行号"), required=False, max_length=12)
    account_no = forms.CharField(label=_("账号"), required=False, max_length=34)
    account_name = forms.CharField(label=_("户名"), required=False, max_length=140)
    note = forms.CharField(label=_("更正依据"), widget=forms.Textarea(attrs={"rows": 2}))

    ACCOUNT_FIELDS = ("bank_code", "branch_code", "account_no", "account_name")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "bank_code", [("", "—"), *_bank_choices()])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == "account":
            for name in self.ACCOUNT_FIELDS:
                if not data.get(name):
                    self.add_error(name, _("登记更正账户时必填。"))
        return data

    def account(self) -> AccountInput | None:
        """The account entered, or None for a re-send to the failed account."""
        data = self.cleaned_data
        if data["kind"] != "account":
            return None
        return AccountInput(*(data[name] for name in self.ACCOUNT_FIELDS))


class PaymentRequestForm(forms.Form):
    """Ask a second officer to approve a cancellation or a file re-issue."""

    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}))


class HoldResolveForm(forms.Form):
    resolution = forms.CharField(label=_("处理说明"), widget=forms.Textarea(attrs={"rows": 2}))


class BankFileFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False)
    bank = forms.ChoiceField(label=_("银行"), required=False)
    execution_date = forms.DateField(
        label=_("执行日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(
            self,
            "status",
            [("", _("全部")), *((s.value, label) for s, label in BANK_FILE_STATUS_LABELS.items())],
        )
        _choices(self, "bank", [("", _("全部")), *_bank_choices()])

    def filter(self) -> BankFileFilter:
        """The valid fields only (an invalid value is ignored, not an error page)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return BankFileFilter(
            status=data.get("status") or "",
            bank=data.get("bank") or "",
            execution_date=data.get("execution_date"),
        )


class FailureFilterForm(forms.Form):
    district = forms.ChoiceField(label=_("区"), required=False)
    action = forms.ChoiceField(label=_("处理方式"), required=False)
    q = forms.CharField(label=_("单位名称或编号"), required=False, max_length=100)

    def __init__(self, *args: Any, districts: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices(self, "district", [("", _("全部")), *((c, f"{c} {DISTRICTS[c]}") for c in districts)])
        _choices(
            self,
            "action",
            [
                ("", _("全部")),
                *((a.value, label) for a, label in ACTION_LABELS.items()),
                ("no_account", _("无可用账户")),
            ],
        )

    def filter(self) -> FailureFilter:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return FailureFilter(
            district=data.get("district") or "",
            action=data.get("action") or "",
            q=(data.get("q") or "").strip(),
        )


class SecondFactorForm(forms.Form):
    """A code from the authenticator app (six digits) or one of the recovery codes."""

    token = forms.CharField(
        label=_("验证码"),
        max_length=32,
        help_text=_("身份验证器应用中的 6 位数字，或一个恢复码（每个只能用一次）"),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class UnlockForm(forms.Form):
    name = forms.CharField(max_length=150, widget=forms.HiddenInput)
