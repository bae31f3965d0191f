"""Tests of the Spark engine (``mianshen screen --engine spark``, docs/spark.md), in local mode ``local[2]`` with
ONE SparkSession for the whole test session (a JVM start costs seconds). They need PySpark (``pip install
mianshen[spark]``) and Java 17 (``apt-get install openjdk-17-jre-headless``); without either they skip with one
line saying what to install, and in CI (``MIANSHEN_REQUIRE_SPARK=1``, set by .ci/run) a skip is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from mianshen.screening import spark


def _require_spark() -> Any:
    try:
        return spark.spark_session("local[2]")
    except spark.SparkUnavailable as exc:
        message = f"spark tests skipped: {exc}"
        if os.environ.get("MIANSHEN_REQUIRE_SPARK") == "1":
            pytest.fail(message + " — MIANSHEN_REQUIRE_SPARK=1: a skipped Spark test is a failure here")
        pytest.skip(message)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    session = _require_spark()
    yield session
    session.stop()
