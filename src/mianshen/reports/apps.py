from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "mianshen.reports"
    label = "reports"
    verbose_name = "统计 / reports"
