from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "mianshen.cases"
    label = "cases"
    verbose_name = "个案 / cases"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the reaction to a completed screening round)
