from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "mianshen.staff"
    label = "staff"
    verbose_name = "staff"
