from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "mianshen.audit"
    label = "audit"
    verbose_name = "全程留痕 / audit trail"
