from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "mianshen.portal"
    label = "portal"
    verbose_name = "门户 / public portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the notice_opened receiver)
