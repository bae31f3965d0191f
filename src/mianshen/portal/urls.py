"""The public portal's paths (contracts §4: kept exactly)."""

from django.urls import path

from . import apply_views, callback_views, letter_views, lookup_views, views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("guide/", views.guide, name="guide"),
    path("faq/", views.faq_page, name="faq"),
    path("demo/", views.demo, name="demo"),
    path("privacy/", views.privacy, name="privacy"),
    path("publicity/", views.publicity, name="publicity"),
    path("publicity/download.csv", views.publicity_csv, name="publicity_csv"),
    path("objections/new/", views.objection_new, name="objection_new"),
    path("objections/new/check/", views.objection_check_answers, name="objection_check"),
    path("objections/new/done/", views.objection_done, name="objection_done"),
    path("objections/status/", views.objection_status_page, name="objection_status"),
    path("callback/", callback_views.callback_new, name="callback_new"),
    path("callback/check/", callback_views.callback_check_answers, name="callback_check"),
    path("callback/done/", callback_views.callback_done, name="callback_done"),
    path("callback/status/", callback_views.callback_status_page, name="callback_status"),
    path("lookup/", lookup_views.lookup_page, name="lookup"),
    path("lookup/letters/<int:case_id>/<slug:kind>.pdf", letter_views.letter_download, name="letter"),
    path("apply/", apply_views.apply_home, name="apply"),
    path("apply/new/<int:case_id>/<str:kind>/", apply_views.apply_new, name="apply_new"),
    path("apply/check/", apply_views.apply_check, name="apply_check"),
    path("apply/done/", apply_views.apply_done, name="apply_done"),
    path("apply/documents/<int:pk>/", apply_views.apply_document, name="apply_document"),
    path("apply/dispatch/<int:case_id>/", apply_views.host_answer_new, name="host_answer_new"),
    path("apply/dispatch/check/", apply_views.host_answer_check, name="host_answer_check"),
    path("apply/dispatch/done/", apply_views.host_answer_done, name="host_answer_done"),
]
