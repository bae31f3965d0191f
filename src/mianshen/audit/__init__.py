"""The tamper-evident audit trail (全程留痕): append-only, hash-chained events; checkpoints; verify.

Public API: ``services.audit_record`` / ``services.audit_checkpoint`` (writes), ``selectors.audit_head`` /
``selectors.audit_events_for`` (reads), ``verify.audit_verify`` (the chain and the checkpoint file, both ways),
``catalogue.Action`` (event types), ``protection.protection_remove`` / ``protection_restore`` and
``restore.audit_restore_accept`` (administrators). Backups: ``tools/backup_drill.sh``. See docs/audit.md.
"""
