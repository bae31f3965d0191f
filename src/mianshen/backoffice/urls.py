"""Back-office URLs (namespace ``backoffice``; mounted at ``/office/``)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy
from django.views.i18n import set_language

from .views import cases, dashboard, notices, queues, rounds

app_name = "backoffice"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="backoffice/login.html", next_page=reverse_lazy("backoffice:dashboard")
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("backoffice:login")), name="logout"),
    path("language/", set_language, name="set_language"),
    path("", dashboard.dashboard, name="dashboard"),
    path("rounds/", rounds.round_list, name="rounds"),
    path("rounds/start/", rounds.round_start_view, name="round_start"),
    path("rounds/<int:pk>/", rounds.round_detail, name="round_detail"),
    path("rounds/<int:pk>/progress/", rounds.round_progress, name="round_progress"),
    path("queues/<slug:name>/", queues.queue, name="queue"),
    path("cases/<int:pk>/", cases.case_detail, name="case"),
    path("cases/<int:pk>/explanation/", cases.case_explanation, name="case_explanation"),
    path("cases/<int:pk>/bank/", cases.case_bank, name="case_bank"),
    path("cases/<int:pk>/contact/", cases.case_contact, name="case_contact"),
    path("cases/<int:pk>/reviews/", cases.review_prepare_view, name="review_prepare"),
    path("cases/<int:pk>/confirmations/", cases.confirmation_record_view, name="confirmation_record"),
    path("cases/<int:pk>/objections/", notices.objection_record_view, name="objection_record"),
    path("reviews/<int:pk>/decide/", cases.review_decide_view, name="review_decide"),
    path("objections/<int:pk>/decide/", notices.objection_decide_view, name="objection_decide"),
    path("notices/", notices.notice_list, name="notices"),
    path("notices/open/", notices.notice_open_view, name="notice_open"),
    path("notices/<int:pk>/", notices.notice_detail, name="notice_detail"),
]
