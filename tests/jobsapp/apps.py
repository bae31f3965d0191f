from django.apps import AppConfig


class JobsAppConfig(AppConfig):
    """A test app that brings its own job handler (``tasks.py``), named nowhere in core."""

    name = "tests.jobsapp"
    label = "tests_jobsapp"
