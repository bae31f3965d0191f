"""Back-office URLs (namespace ``backoffice``; mounted at ``/office/``)."""

from __future__ import annotations

from django.urls import path
from django.views.i18n import set_language

from .views import (
    callbacks,
    cases,
    dashboard,
    documents,
    enquiries,
    notices,
    outbox,
    payments,
    queues,
    recovery,
    rounds,
    signin,
    staff,
)

app_name = "backoffice"

urlpatterns = [
    path("login/", signin.SignInView.as_view(), name="login"),
    path("login/verify/", signin.sign_in_verify, name="sign_in_verify"),
    path("login/enrol/", signin.sign_in_enrol, name="sign_in_enrol"),
    path("logout/", signin.SignOutView.as_view(), name="logout"),
    path("password/", signin.password_change, name="password_change"),
    path("staff/", staff.staff_accounts, name="staff_accounts"),
    path("staff/unlock/", staff.staff_unlock_view, name="staff_unlock"),
    path("language/", set_language, name="set_language"),
    path("", dashboard.dashboard, name="dashboard"),
    path("dashboard/recompute/", dashboard.dashboard_recompute, name="dashboard_recompute"),
    path("rounds/", rounds.round_list, name="rounds"),
    path("rounds/start/", rounds.round_start_view, name="round_start"),
    path("rounds/<int:pk>/", rounds.round_detail, name="round_detail"),
    path("rounds/<int:pk>/progress/", rounds.round_progress, name="round_progress"),
    path("queues/<slug:name>/", queues.queue, name="queue"),
    path("queues/<slug:name>/export.<slug:fmt>", queues.queue_export, name="queue_export"),
    path("cases/<int:pk>/", cases.case_detail, name="case"),
    path("cases/<int:pk>/explanation/", cases.case_explanation, name="case_explanation"),
    path("cases/<int:pk>/letters/<slug:kind>.pdf", documents.case_letter, name="case_letter"),
    path("cases/<int:pk>/bank/", cases.case_bank, name="case_bank"),
    path("applications/documents/<int:pk>/", cases.application_document, name="application_document"),
    path(
        "applications/<int:pk>/account-check/",
        cases.application_account_check_view,
        name="application_account_check",
    ),
    path("cases/<int:pk>/contact/", cases.case_contact, name="case_contact"),
    path("cases/<int:pk>/reviews/", cases.review_prepare_view, name="review_prepare"),
    path("cases/<int:pk>/confirmations/", cases.confirmation_record_view, name="confirmation_record"),
    path("cases/<int:pk>/objections/", notices.objection_record_view, name="objection_record"),
    path("reviews/<int:pk>/decide/", cases.review_decide_view, name="review_decide"),
    path("objections/<int:pk>/decide/", notices.objection_decide_view, name="objection_decide"),
    path("notices/", notices.notice_list, name="notices"),
    path("callbacks/", callbacks.callback_queue, name="callbacks"),
    path("callbacks/<int:pk>/", callbacks.callback_detail, name="callback"),
    path("callbacks/<int:pk>/phone/", callbacks.callback_phone, name="callback_phone"),
    path("outbox/", outbox.outbox_page, name="outbox"),
    path("outbox/<int:pk>/retry/", outbox.outbox_retry, name="outbox_retry"),
    path("enquiries/", enquiries.enquiries_page, name="enquiries"),
    path("notices/open/", notices.notice_open_view, name="notice_open"),
    path("notices/<int:pk>/", notices.notice_detail, name="notice_detail"),
    path("notices/<int:pk>/list-<slug:district>.pdf", documents.notice_list_pdf, name="notice_list_pdf"),
    # payments: case level (scoped to the district)
    path("cases/<int:pk>/payment-accounts/", cases.case_payment_accounts, name="case_payment_accounts"),
    path("cases/<int:pk>/corrections/", recovery.correction_prepare_view, name="correction_prepare"),
    path(
        "cases/<int:pk>/cancel-request/", recovery.payment_cancel_request_view, name="payment_cancel_request"
    ),
    path("payments/", payments.payments_overview, name="payments"),
    path("payments/failures/", recovery.payment_failures, name="payment_failures"),
    path("payments/holds/<int:pk>/resolve/", recovery.hold_resolve_view, name="hold_resolve"),
    path("payments/corrections/", recovery.correction_list, name="corrections"),
    path("payments/corrections/<int:pk>/decide/", recovery.correction_decide_view, name="correction_decide"),
    path("payments/approvals/", recovery.approval_list, name="approvals"),
    path("payments/approvals/<int:pk>/decide/", recovery.approval_decide_view, name="approval_decide"),
    path("payments/reissues/", recovery.reissue_list, name="reissues"),
    # payments: city level (bank files hold every district's accounts)
    path("payments/files/", payments.bank_file_list, name="bank_files"),
    path("payments/files/<slug:msg_id>/", payments.bank_file_detail, name="bank_file"),
    path(
        "payments/files/<slug:msg_id>/download/", payments.bank_file_download_view, name="bank_file_download"
    ),
    path(
        "payments/files/<slug:msg_id>/reissue-request/",
        payments.bank_file_reissue_request_view,
        name="bank_file_reissue_request",
    ),
    path("payments/reconciliation/", payments.reconciliation, name="reconciliation"),
    path(
        "payments/reconciliation/recompute/",
        payments.reconciliation_recompute,
        name="reconciliation_recompute",
    ),
    path("payments/inbound/", payments.inbound_file_list, name="inbound_files"),
    path("payments/inbound/<int:pk>/reprocess/", payments.inbound_reprocess_view, name="inbound_reprocess"),
]
