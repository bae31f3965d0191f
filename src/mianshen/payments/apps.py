from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "mianshen.payments"
    label = "payments"
    verbose_name = "拨付 / payments"
