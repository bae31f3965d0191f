"""Command-line messages are English unless asked: ``--lang zh`` (before or after a sub-command) or a Chinese
locale in the environment; a refusal then reads as the back office shows it."""

from __future__ import annotations

import pytest

from mianshen.core.command import cli_language

from .test_commands import refused

RETRY = ("upload", "--retry", "MS-M20991231-102-0001")


def test_the_language_follows_the_option_then_the_locale() -> None:
    assert cli_language(None, {}) == "en"
    assert cli_language(None, {"LANG": "zh_CN.UTF-8"}) == "zh-hans"
    assert cli_language(None, {"LANG": "zh_CN.UTF-8", "LC_ALL": "C.UTF-8"}) == "en"  # LC_ALL first
    assert cli_language(None, {"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_TW.UTF-8"}) == "zh-hans"
    assert cli_language("en", {"LC_ALL": "zh_CN.UTF-8"}) == "en"
    assert cli_language("zh", {}) == "zh-hans"


@pytest.mark.django_db
def test_a_refusal_is_english_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    assert refused("pay", *RETRY) == "no bank file MS-M20991231-102-0001"


@pytest.mark.django_db
def test_a_refusal_in_chinese_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    chinese = "没有报文标识为 MS-M20991231-102-0001 的银行文件"
    assert refused("pay", "--lang", "zh", *RETRY) == chinese
    assert refused("pay", *RETRY, "--lang", "zh") == chinese  # after the sub-command too
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    assert refused("pay", *RETRY) == chinese
    assert refused("pay", "--lang", "en", *RETRY) == "no bank file MS-M20991231-102-0001"
