"""The information pages: every path answers in Chinese by default and in English by ``?lang=en`` or
``Accept-Language``; the guide's figures come from the parameter set in force."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.test import Client

from mianshen.policy import parameters

PAGES = [
    "/",
    "/guide/",
    "/faq/",
    "/demo/",
    "/privacy/",
    "/publicity/",
    "/objections/new/",
    "/objections/status/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_chinese_by_default_and_english_on_request(client: Client, path: str) -> None:
    zh = client.get(path)
    assert zh.status_code == 200
    body = zh.content.decode()
    assert '<html lang="zh-Hans">' in body and "失业保险稳岗返还专区" in body
    assert 'href="#main"' in body  # skip link
    en = Client().get(path, {"lang": "en"})
    assert en.status_code == 200
    text = en.content.decode()
    assert '<html lang="en">' in text and "Unemployment-insurance refund" in text
    assert "失业保险稳岗返还专区" not in text
    by_header = Client(headers={"accept-language": "en-GB,en;q=0.9"}).get(path)
    assert '<html lang="en">' in by_header.content.decode()


@pytest.mark.django_db
def test_the_language_chosen_by_the_switch_is_remembered(client: Client) -> None:
    client.get("/", {"lang": "en"})
    assert '<html lang="en">' in client.get("/guide/").content.decode()
    client.get("/", {"lang": "zh"})
    assert '<html lang="zh-Hans">' in client.get("/guide/").content.decode()


@pytest.mark.django_db
def test_the_guide_shows_the_parameters_in_force(client: Client) -> None:
    body = client.get("/guide/").content.decode()
    assert '<dd id="fig-layoff">6%</dd>' in body
    assert '<dd id="fig-small">20%</dd>' in body
    assert '<dd id="fig-sme">60%</dd>' in body and '<dd id="fig-large">30%</dd>' in body
    assert "30 人（含）以下" in body


@pytest.mark.django_db
def test_the_guide_follows_a_changed_parameter(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Change the layoff-rate limit and the SME ratio in a copy of the parameter file: the page changes."""
    params = tmp_path / "params"
    shutil.copytree(Path(parameters.__file__).parent / "params", params)
    text = (params / "beijing.yaml").read_text(encoding="utf-8")
    text = text.replace('value: "0.06"', 'value: "0.065"', 1).replace('sme: "0.60"', 'sme: "0.75"', 1)
    (params / "beijing.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(parameters, "_params_dir", lambda: params)
    parameters.load_family.cache_clear()
    parameters._policies.cache_clear()
    parameters.resolve.cache_clear()
    try:
        body = client.get("/guide/").content.decode()
        home = client.get("/").content.decode()
    finally:
        parameters.load_family.cache_clear()
        parameters._policies.cache_clear()
        parameters.resolve.cache_clear()
    assert '<dd id="fig-layoff">6.5%</dd>' in body and '<dd id="fig-sme">75%</dd>' in body
    assert "6.5%" in home and "75%" in home


@pytest.mark.django_db
def test_the_guide_shows_another_policy_when_configured(client: Client, settings: object) -> None:
    settings.PORTAL_POLICY = "national-2020"  # type: ignore[attr-defined]
    body = client.get("/guide/").content.decode()
    assert '<dd id="fig-layoff">5.5%</dd>' in body and '<dd id="fig-sme">100%</dd>' in body


@pytest.mark.django_db
def test_the_faq_is_searchable_in_both_languages(client: Client) -> None:
    every = client.get("/faq/").content.decode()
    assert every.count('<details class="qa"') == 10
    found = client.get("/faq/", {"q": "裁员率"}).content.decode()
    assert 'id="layoff-rate"' in found and 'id="fee"' not in found
    english = client.get("/faq/", {"q": "layoff rate", "lang": "en"}).content.decode()
    assert 'id="layoff-rate"' in english and "How is the layoff rate computed?" in english
    none = client.get("/faq/", {"q": "不存在的问题xyz", "lang": "zh"}).content.decode()
    assert '<details class="qa"' not in none and "没有找到相关问题" in none


@pytest.mark.django_db
def test_unknown_paths_are_404_not_500(client: Client) -> None:
    assert client.get("/nothing-here/").status_code == 404
