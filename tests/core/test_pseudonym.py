"""Person pseudonyms: HMAC-SHA256 with the key over NFKC(upper(identity number)), in hex."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mianshen.core.pseudonym import (
    DEMO_KEY,
    ENV_KEY,
    PseudonymError,
    configured_key,
    normalise,
    pseudonym,
)

KEY = b"agency-key"
ID = "11010519491231002X"


def test_it_is_hmac_sha256_of_the_normalised_number_in_hex() -> None:
    expected = hmac.new(KEY, ID.encode(), hashlib.sha256).hexdigest()
    assert pseudonym(ID, KEY) == expected
    assert len(expected) == 64 and expected == expected.lower()


@pytest.mark.parametrize(
    "written",
    [
        "11010519491231002x",  # lower-case check character
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits and letter
        "１１０１０５１９４９１２３１００２ｘ",  # full-width lower-case
        f"  {ID} ",
    ],
)
def test_the_same_person_written_otherwise_gets_the_same_pseudonym(written: str) -> None:
    assert pseudonym(written, KEY) == pseudonym(ID, KEY)


def test_a_different_key_or_number_gives_a_different_pseudonym() -> None:
    assert pseudonym(ID, KEY) != pseudonym(ID, b"other-key")
    assert pseudonym(ID, KEY) != pseudonym("110105194912310029", KEY)


@pytest.mark.parametrize(("number", "key"), [("", KEY), ("   ", KEY), (ID, b"")])
def test_an_empty_number_or_key_is_refused(number: str, key: bytes) -> None:
    with pytest.raises(PseudonymError):
        pseudonym(number, key)


@given(st.text(min_size=1, max_size=30).filter(lambda t: normalise(t) != ""))
def test_any_number_gives_64_hex_digits_and_never_contains_the_number(number: str) -> None:
    made = pseudonym(number, KEY)
    assert len(made) == 64 and all(c in "0123456789abcdef" for c in made)
    assert made == pseudonym(normalise(number), KEY)  # normalising twice changes nothing
    if len(normalise(number)) >= 10:
        assert normalise(number).lower() not in made


def test_the_key_comes_from_the_environment_else_the_demo_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    assert configured_key() == DEMO_KEY
    monkeypatch.setenv(ENV_KEY, "")
    assert configured_key() == DEMO_KEY
    monkeypatch.setenv(ENV_KEY, "秘钥-2022")
    assert configured_key() == "秘钥-2022".encode()
