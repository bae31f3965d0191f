from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "mianshen.backoffice"
    label = "backoffice"
    verbose_name = "后台 / back office"
    default_auto_field = "django.db.models.BigAutoField"
