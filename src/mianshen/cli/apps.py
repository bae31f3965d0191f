from django.apps import AppConfig


class CliConfig(AppConfig):
    name = "mianshen.cli"
    label = "cli"
    verbose_name = "mianshen command line"
