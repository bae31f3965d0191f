"""The tamper-evident audit trail (全程留痕): append-only, hash-chained events; checkpoints; verify.

Public API: ``services.audit_record`` / ``services.audit_checkpoint`` (writes), ``selectors.audit_head`` /
``selectors.audit_events_for`` (reads), ``verify.audit_verify``, ``catalogue.Action`` (event types),
``protection.protection_remove`` / ``protection_restore`` (administrators). See docs/audit.md.
"""
