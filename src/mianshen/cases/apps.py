from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "mianshen.cases"
    label = "cases"
    verbose_name = "个案 / cases"
