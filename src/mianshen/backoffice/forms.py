"""Back-office forms: they parse and check input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mianshen.cases.models import ObjectionOutcome
from mianshen.cases.states import State
from mianshen.policy.parameters import policies
from mianshen.registry.models import Snapshot

from . import labels
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
    checkpoint = forms.ChoiceField(
        label=_("检查点"), choices=list(labels.CHECKPOINTS.items()), initial="ad_hoc"
    )

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
    raised_by = forms.ChoiceField(label=_("提出方"), choices=list(labels.RAISED_BY.items()))
    contact = forms.CharField(label=_("联系方式"), max_length=200)
    grounds = forms.CharField(label=_("异议理由"), widget=forms.Textarea(attrs={"rows": 3}))


class ObjectionDecideForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("处理结果"), choices=[(v, labels.OUTCOMES[v]) for v in ObjectionOutcome.values]
    )
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}))


class ReviewPrepareForm(forms.Form):
    recommendation = forms.ChoiceField(
        label=_("审核意见"),
        choices=[("approve", labels.OUTCOMES["approve"]), ("reject", labels.OUTCOMES["reject"])],
    )
    notes = forms.CharField(label=_("审核说明"), widget=forms.Textarea(attrs={"rows": 3}))


class ReviewDecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("复核结论"),
        choices=[("approve", labels.OUTCOMES["approve"]), ("reject", labels.OUTCOMES["reject"])],
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
        _choices(self, "state", [("", _("全部")), *((s.value, labels.STATES[s.value]) for s in State)])
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
