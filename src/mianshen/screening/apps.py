from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "mianshen.screening"
    label = "screening"
    verbose_name = "比对 / screening rounds"
