"""Screening rounds: the list, starting one (the worker runs it), its detail with counts, diff and progress."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from mianshen.screening.models import RoundStatus, ScreeningRound
from mianshen.screening.services import RoundRefused, round_start

from .. import selectors
from ..forms import StartRoundForm
from ..roles import Perm, can
from ._base import actor, paginate, refusal_text, staff_view


@staff_view()
def round_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, ScreeningRound.objects.select_related("snapshot").order_by("-id"))
    return render(
        request, "backoffice/rounds.html", {"page": page, "may_start": can(request.user, Perm.START_ROUND)}
    )


@staff_view(methods=("GET", "POST"), perm=Perm.START_ROUND)
def round_start_view(request: HttpRequest) -> HttpResponse:
    form = StartRoundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rnd = round_start(
                policy_id=data["policy"],
                snapshot=data["snapshot"],
                actor=actor(request),
                as_of=data["as_of"],
                checkpoint=data["checkpoint"],
            )
        except RoundRefused as exc:
            form.add_error(None, refusal_text(exc))
        else:
            return redirect("backoffice:round_detail", pk=rnd.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "backoffice/round_start.html", {"form": form}, status=status)


@staff_view()
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = get_object_or_404(ScreeningRound.objects.select_related("snapshot"), pk=pk)
    previous = selectors.round_previous(rnd)
    done = rnd.status == RoundStatus.COMPLETED
    context: dict[str, object] = {"round": rnd, "previous": previous, "job": selectors.round_job(rnd)}
    if done:
        before = previous.counts if previous else None
        context["decisions"] = selectors.compare_counts(
            rnd.counts.get("decision", {}), before.get("decision", {}) if before else None
        )
        context["codes"] = selectors.compare_counts(
            rnd.counts.get("codes", {}), before.get("codes", {}) if before else None
        )
        context["eligible_fen"] = int(rnd.counts.get("eligible_amount_fen", {}).get("total", 0))
        context["eligible_fen_before"] = (
            int(before.get("eligible_amount_fen", {}).get("total", 0)) if before else None
        )
    if done and previous is not None:
        transitions, changed = selectors.round_changes(request.user, before=previous, after=rnd)
        context["transitions"] = transitions
        context["changed"] = paginate(request, changed)
    return render(request, "backoffice/round_detail.html", context)


@staff_view()
def round_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the detail page polls; when the round is no longer running the page reloads."""
    rnd = get_object_or_404(ScreeningRound, pk=pk)
    response = render(
        request, "backoffice/_round_progress.html", {"round": rnd, "job": selectors.round_job(rnd)}
    )
    if rnd.status != RoundStatus.RUNNING:
        response["HX-Refresh"] = "true"
    return response
