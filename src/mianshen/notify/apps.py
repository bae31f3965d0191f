from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "mianshen.notify"
    label = "notify"
    verbose_name = "通知 / notifications"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (queues messages when cases and payments move)
