from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mianshen.core"
    label = "core"
    verbose_name = "mianshen"
