from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "mianshen.registry"
    label = "registry"
    verbose_name = "参保单位登记 / registry"
