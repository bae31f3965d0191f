"""Tests of the synthetic data drop generator (`mianshen generate`): format, determinism, shape, calibration.

Plain pytest, no database. The calibration check at the bottom is an approximate, independent Polars
computation of the ``beijing-2021`` rule (contracts §2.1) written only to tune the generator: it is not the
policy engine and must not be used as one.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from mianshen.datadrop import generate as gen
from mianshen.datadrop.generate import TABLES, GenerateError, account_fate, generate
from mianshen.datadrop.schema import (
    FLAGS,
    SEPARATION_REASONS,
    SIZE_CLASSES,
    UNIT_TYPES,
    USCC_ALPHABET,
    uscc_check_char,
)
from mianshen.datadrop.synth import catalog, sizing
from mianshen.datadrop.synth.partners import account_fate_expr

DISTRICTS = {d[0] for d in catalog.DISTRICTS}
COOPERATING_BANKS = {"102", "103", "104", "105", *(str(c) for c in range(301, 311)), "313", "403"}
CALIBRATION_UNITS = 20_000


def _digest(drop: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(drop.iterdir())}


def _read(drop: Path, table: str) -> pl.DataFrame:
    """A table as text columns (CSV read without type inference; Parquet cast to text)."""
    csv = drop / f"{table}.csv"
    if csv.exists():
        return pl.read_csv(csv, infer_schema=False)
    return pl.read_parquet(drop / f"{table}.parquet").with_columns(pl.all().cast(pl.String))


@pytest.fixture(scope="module")
def small_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "drop"
    generate(units=5_000, seed=11, out=out)
    return out


@pytest.fixture(scope="module")
def calibration_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("calibration") / "drop"
    generate(units=CALIBRATION_UNITS, seed=2021, out=out, fmt="parquet")
    return out


# --- format --------------------------------------------------------------------------------------------------


def test_every_file_and_column_in_schema_order(small_drop: Path) -> None:
    assert sorted(p.name for p in small_drop.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    for name, table in TABLES.items():
        raw = (small_drop / f"{name}.csv").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM"
        assert b"\r" not in raw, "LF line endings only"
        assert raw.endswith(b"\n")
        header = raw.split(b"\n", 1)[0].decode()
        assert header.split(",") == table.column_names
        assert _read(small_drop, name).height > 0, name


def test_returns_rows_written_per_table(tmp_path: Path) -> None:
    rows = generate(units=300, seed=3, out=tmp_path / "d")
    assert list(rows) == list(TABLES)
    for name, count in rows.items():
        assert _read(tmp_path / "d", name).height == count
    assert rows["units"] == 300


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    generate(units=1_500, seed=42, out=tmp_path / "a")
    generate(units=1_500, seed=42, out=tmp_path / "b")
    generate(units=1_500, seed=43, out=tmp_path / "c")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    different = {n for n, h in _digest(tmp_path / "a").items() if _digest(tmp_path / "c")[n] != h}
    assert different == {f"{t}.csv" for t in TABLES}


def test_parquet_is_deterministic_too(tmp_path: Path) -> None:
    generate(units=800, seed=5, out=tmp_path / "a", fmt="parquet")
    generate(units=800, seed=5, out=tmp_path / "b", fmt="parquet")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_batches_do_not_change_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate(units=2_000, seed=9, out=tmp_path / "one")
    monkeypatch.setattr(gen, "BATCH_UNITS", 700)
    generate(units=2_000, seed=9, out=tmp_path / "three")
    assert _digest(tmp_path / "one") == _digest(tmp_path / "three")


def test_a_smaller_drop_is_a_prefix_of_a_larger_one(tmp_path: Path) -> None:
    generate(units=500, seed=9, out=tmp_path / "small")
    generate(units=900, seed=9, out=tmp_path / "large")
    small, large = _read(tmp_path / "small", "units"), _read(tmp_path / "large", "units")
    assert small.equals(large.head(500))


def test_csv_and_parquet_hold_the_same_data(tmp_path: Path) -> None:
    generate(units=1_000, seed=8, out=tmp_path / "csv")
    generate(units=1_000, seed=8, out=tmp_path / "pq", fmt="parquet")
    for name, table in TABLES.items():
        pq = pl.read_parquet(tmp_path / "pq" / f"{name}.parquet")
        assert pq.columns == table.column_names
        for column in table.columns:
            expected = {"int": pl.Int64, "flag01": pl.Int64, "date": pl.Date}.get(column.kind, pl.String)
            assert pq.schema[column.name] == expected, (name, column.name)
        assert _read(tmp_path / "csv", name).equals(_read(tmp_path / "pq", name)), name


# --- identifiers and codes -----------------------------------------------------------------------------------


def _uscc_ok(code: str) -> bool:
    return (
        len(code) == 18
        and all(c in USCC_ALPHABET for c in code)
        and code[2:8].isdigit()
        and uscc_check_char(code[:17]) == code[17]
    )


def test_credit_codes_are_valid_unique_and_carry_the_district(small_drop: Path) -> None:
    units = _read(small_drop, "units")
    assert all(_uscc_ok(c) for c in units["credit_code"])
    assert all(c[2:8] == d for c, d in zip(units["credit_code"], units["district"], strict=True))
    assert units["credit_code"].n_unique() == units.height
    flags = _read(small_drop, "credit_flags")
    assert all(_uscc_ok(c) for c in flags["credit_code"])
    orphans = set(flags["credit_code"]) - set(units["credit_code"])
    assert orphans, "some flags name credit codes that no unit has"


def test_unit_ids_are_unique_11_digit_text(small_drop: Path) -> None:
    ids = _read(small_drop, "units")["unit_id"]
    assert all(re.fullmatch(r"1\d{10}", i) for i in ids)
    assert ids.n_unique() == len(ids)
    assert ids.to_list() == sorted(ids.to_list())


def test_codes_and_phones_are_well_formed(small_drop: Path) -> None:
    units = _read(small_drop, "units")
    assert all(re.fullmatch(r"\d{2,4}", i) and 1 <= int(i[:2]) <= 97 for i in units["industry"])
    phones = units["phone"].drop_nulls()
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)
    assert 0 < units["phone"].null_count() < units.height * 0.2
    assert set(units["dispatch"]) == {"0", "1"}


def test_bank_accounts(small_drop: Path) -> None:
    units = _read(small_drop, "units")
    accounts = _read(small_drop, "bank_accounts")
    assert 0.95 * units.height < accounts.height < units.height
    assert accounts["unit_id"].n_unique() == accounts.height
    assert all(re.fullmatch(r"\d{3}", b) for b in accounts["bank_code"])
    assert all(
        re.fullmatch(r"\d{12}", br) and br.startswith(b)
        for b, br in zip(accounts["bank_code"], accounts["branch_code"], strict=True)
    )
    assert all(re.fullmatch(r"\d{12,19}", a) for a in accounts["account_no"])
    banks = set(accounts["bank_code"])
    assert banks >= COOPERATING_BANKS | {"314", "402"}
    cooperating = accounts.filter(pl.col("bank_code").is_in(COOPERATING_BANKS)).height
    assert cooperating > 0.9 * accounts.height


def test_account_fate_rule_and_names(small_drop: Path) -> None:
    accounts = _read(small_drop, "bank_accounts").join(
        _read(small_drop, "units").select("unit_id", "name"), on="unit_id"
    )
    fates = [account_fate(a) for a in accounts["account_no"]]
    vectorised = accounts.select(account_fate_expr(pl.col("account_no")).alias("fate"))["fate"].to_list()
    assert fates == vectorised
    counts = {code: fates.count(code) for code in ("AC01", "AC04", "BE01")}
    assert all(counts.values()), counts
    assert 0.01 < sum(counts.values()) / len(fates) < 0.06
    differs = [n != h for n, h in zip(accounts["name"], accounts["account_name"], strict=True)]
    assert differs == [f == "BE01" for f in fates]


def test_account_fate_of_odd_input() -> None:
    assert account_fate("") is None
    assert account_fate("62220200abc") is None
    assert account_fate("1" * 20) is None
    assert account_fate("０２００１２３４５６７８９") is None  # full-width digits: not ASCII
    fates = {account_fate(f"{n:016d}") for n in range(2_000)}
    assert fates == {None, "AC01", "AC04", "BE01"}


# --- content -------------------------------------------------------------------------------------------------


def test_every_enum_value_and_district_occurs(small_drop: Path) -> None:
    units = _read(small_drop, "units")
    assert set(units["unit_type"]) == set(UNIT_TYPES)
    assert set(units["size_class_declared"].drop_nulls()) == set(SIZE_CLASSES)
    assert set(units["district"]) == DISTRICTS
    assert set(_read(small_drop, "separations")["reason"]) == set(SEPARATION_REASONS)
    assert set(_read(small_drop, "credit_flags")["flag"]) == set(FLAGS)
    rows = set(units.select(sizing.size_row(pl.col("industry")).alias("row"))["row"])
    assert rows == set(sizing.SIZE_TABLE), "an industry in every row of the size table"
    lengths = {len(i) for i in units["industry"]}
    assert lengths == {2, 3, 4}
    top = units["district"].value_counts(sort=True)["district"].head(2).to_list()
    assert set(top) == {"110105", "110108"}, "朝阳 and 海淀 biggest"


def test_optional_values_are_sometimes_missing(small_drop: Path) -> None:
    units = _read(small_drop, "units")
    for column in (
        "size_class_declared",
        "employees",
        "revenue_yuan",
        "assets_yuan",
        "deregistered_on",
        "phone",
    ):
        share = units[column].null_count() / units.height
        assert 0 < share < 1, column
    dereg = units["deregistered_on"].drop_nulls()
    assert min(dereg) < "2021-07-01" < max(dereg)


def test_dispatch_firms_and_confirmations(small_drop: Path) -> None:
    units = _read(small_drop, "units")
    dispatch = units.filter(pl.col("dispatch") == "1")
    assert 0.01 < dispatch.height / units.height < 0.04
    assert set(dispatch["industry"]) <= {"7263", "726", "7269"}
    confirmations = _read(small_drop, "dispatch_confirmations")
    assert set(confirmations["unit_id"]) <= set(dispatch["unit_id"])
    assert 0.3 < confirmations.height / dispatch.height < 0.7
    assert min(confirmations["confirmed_on"]) < "2021-07-01" < max(confirmations["confirmed_on"])


def test_dispatch_firms_name_one_to_three_hosts_mostly_units_of_the_city(small_drop: Path) -> None:
    units = _read(small_drop, "units")
    dispatch = units.filter(pl.col("dispatch") == "1")
    hosts = _read(small_drop, "dispatch_hosts")
    assert hosts.columns == ["unit_id", "host_credit_code", "workers"]
    assert set(hosts["unit_id"]) == set(dispatch["unit_id"])  # every firm names its hosts
    assert set(hosts.group_by("unit_id").len()["len"]) == {1, 2, 3}
    assert hosts.select(pl.struct("unit_id", "host_credit_code").n_unique()).item() == hosts.height
    workers = hosts["workers"].cast(pl.Int64)
    assert workers.min() >= 1 and workers.max() <= 80  # type: ignore[operator]
    inside = hosts["host_credit_code"].is_in(units["credit_code"].implode())
    assert 0.7 < inside.mean() < 0.95  # type: ignore[operator]
    outside = hosts.filter(~inside)["host_credit_code"]
    assert outside.str.slice(2, 6).eq("310115").all()  # employers outside the city (Shanghai)
    own = hosts.join(units.select("unit_id", "credit_code"), on="unit_id")
    assert (own["host_credit_code"] != own["credit_code"]).all()  # no firm is its own host


def test_headcount_shape(small_drop: Path) -> None:
    hc = _read(small_drop, "headcount").with_columns(pl.col("insured").cast(pl.Int64))
    assert hc["month"].min() == "2019-01" and hc["month"].max() == "2020-12"
    assert hc.select(pl.struct("unit_id", "month").n_unique()).item() == hc.height
    assert hc["insured"].min() == 0
    per_unit = hc.group_by("unit_id").agg(
        first=pl.col("month").min(), n=pl.len(), dec=(pl.col("month") == "2020-12").any()
    )
    assert per_unit.filter(pl.col("first") > "2019-12").height > 0, "some units first insured in 2020"
    assert per_unit.filter(~pl.col("dec")).height > 0, "some units without a 2020-12 row"
    dec = hc.filter(pl.col("month") == "2020-12")["insured"]
    assert (dec <= 30).mean() > 0.8 and dec.max() > 300  # type: ignore[operator]


def test_separations_are_reflected_in_the_headcount(small_drop: Path) -> None:
    hc = (
        _read(small_drop, "headcount").with_columns(pl.col("insured").cast(pl.Int64)).sort("unit_id", "month")
    )
    hc = hc.with_columns(prev=pl.col("insured").shift(1).over("unit_id"))
    left = (
        _read(small_drop, "separations")
        .with_columns(pl.col("persons").cast(pl.Int64))
        .group_by("unit_id", "month")
        .agg(left=pl.col("persons").sum())
    )
    joined = hc.join(left, on=["unit_id", "month"], how="left").with_columns(pl.col("left").fill_null(0))
    months = joined.filter(pl.col("prev").is_not_null())
    assert months.filter(pl.col("prev") - pl.col("insured") > pl.col("left")).height == 0
    assert months.filter(pl.col("left") > pl.col("prev")).height == 0


def test_contributions_shape(small_drop: Path) -> None:
    con = _read(small_drop, "contributions").with_columns(pl.col("due_fen", "paid_fen").cast(pl.Int64))
    assert con["period"].min() == "2019-01" and con["period"].max() == "2021-06"
    assert con.select(pl.struct("unit_id", "period").n_unique()).item() == con.height
    assert con.filter(pl.col("paid_on").is_null() != (pl.col("paid_fen") == 0)).height == 0
    assert con["paid_on"].drop_nulls().max() <= "2021-06-30"  # type: ignore[operator]
    hc = _read(small_drop, "headcount").with_columns(pl.col("insured").cast(pl.Int64))
    per_person = con.join(hc, left_on=["unit_id", "period"], right_on=["unit_id", "month"]).select(
        pl.col("due_fen") / pl.col("insured")
    )["due_fen"]
    assert per_person.min() >= 4_500 and per_person.max() <= 33_000  # type: ignore[operator]
    assert con.filter(pl.col("paid_fen") < pl.col("due_fen")).height > 0, "arrears"
    assert con.filter(pl.col("paid_fen") > pl.col("due_fen")).height > 0, "over-payments"
    late = con.filter(pl.col("period").str.starts_with("2020") & (pl.col("paid_on") >= "2021-01-01"))
    assert late.height > 0, "2020 periods paid in 2021"


def test_credit_flags_shape(small_drop: Path) -> None:
    flags = _read(small_drop, "credit_flags")
    removed = flags.filter(pl.col("removed_on").is_not_null())
    assert removed.filter(pl.col("removed_on") < pl.col("listed_on")).height == 0
    assert removed.filter(pl.col("removed_on") < "2021-07-01").height > 0
    assert removed.filter(pl.col("removed_on") > "2021-07-01").height > 0
    assert flags.filter(pl.col("removed_on").is_null()).height > 0
    assert set(flags["source"]) == {"市场监管局", "发展改革委", "人力社保局"}


# --- arguments and the output directory ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "seed", "fmt"),
    [(0, 1, "csv"), (-5, 1, "csv"), (gen.MAX_UNITS + 1, 1, "csv"), (10, -1, "csv"), (10, 1, "xlsx")],
)
def test_bad_arguments(tmp_path: Path, units: int, seed: int, fmt: str) -> None:
    with pytest.raises(GenerateError):
        generate(units=units, seed=seed, out=tmp_path / "d", fmt=fmt)
    assert not (tmp_path / "d").exists()


def test_refuses_a_foreign_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(GenerateError, match="not empty"):
        generate(units=10, seed=1, out=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(GenerateError, match="not a directory"):
        generate(units=10, seed=1, out=tmp_path / "file")


def test_overwrites_a_previous_drop_and_keeps_other_files(tmp_path: Path) -> None:
    generate(units=50, seed=1, out=tmp_path)
    (tmp_path / "README.txt").write_text("keep me")
    generate(units=60, seed=2, out=tmp_path, fmt="parquet")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["README.txt", *(f"{t}.parquet" for t in TABLES)])
    generate(units=70, seed=2, out=tmp_path)
    assert _read(tmp_path, "units").height == 70
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*"))


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from django.core.management import CommandError, call_command

    call_command("generate", "--units", "40", "--seed", "3", "--out", str(tmp_path / "d"), "--no-progress")
    assert "units 40" in capsys.readouterr().out
    assert (tmp_path / "d" / "units.csv").exists()
    bad = (["--units", "0"], ["--units", "x"], ["--units", "5", "--seed", "-1"], ["--units", "5", "--parts", "2"],
           ["--units", "5", "--format", "parquet", "--parts", "x"], ["--units", "5", "--parts", "99999"])  # fmt: skip
    for argv in bad:
        with pytest.raises(CommandError) as err:
            call_command("generate", *argv, "--out", str(tmp_path / "e"), "--no-progress")
        assert err.value.returncode == 2 and "\n" not in str(err.value)
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x.txt").write_text("x")
    with pytest.raises(CommandError) as err:
        call_command("generate", "--units", "5", "--out", str(tmp_path / "f"), "--no-progress")
    assert err.value.returncode == 2
    call_command("generate", "--units", "40", "--format", "parquet", "--parts", "2", "--out", str(tmp_path / "g"),
                 "--no-progress")  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "g" / "units").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]


def test_generated_drop_validates_without_problems(small_drop: Path) -> None:
    validate = pytest.importorskip("mianshen.datadrop.validate")
    result = validate.validate_drop(small_drop)
    assert result.problems.height == 0, result.problems.head(20)
    assert result.exit_code == 0


# --- calibration (approximate; NOT the policy engine) --------------------------------------------------------

AS_OF = date(2021, 7, 1)
COVERED = (
    "enterprise",
    "social_organization",
    "foundation",
    "social_service_institution",
    "law_firm",
    "individual_business",
)


def _typed(drop: Path) -> dict[str, pl.DataFrame]:
    tables = {name: pl.read_parquet(drop / f"{name}.parquet") for name in TABLES}
    return tables


def _derived(t: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per unit: H0, H1, N, B, arrears and active flags, as contracts §2.1 defines them (approximately)."""
    hc, sep, con = t["headcount"], t["separations"], t["contributions"]
    h0_dec = hc.filter(pl.col("month") == "2019-12").select("unit_id", h0_dec="insured")
    h0_first = (
        hc.filter(pl.col("month").str.starts_with("2020"))
        .sort("month")
        .group_by("unit_id")
        .agg(h0_first=pl.col("insured").first())
    )
    h1 = hc.filter(pl.col("month") == "2020-12").select("unit_id", h1="insured")
    nat = (
        sep.filter(pl.col("month").str.starts_with("2020") & pl.col("reason").is_in(["retirement", "death"]))
        .group_by("unit_id")
        .agg(n=pl.col("persons").sum())
    )
    base = (
        con.filter(pl.col("period").str.starts_with("2020") & (pl.col("paid_on") <= date(2020, 12, 31)))
        .group_by("unit_id")
        .agg(b=pl.col("paid_fen").sum())
    )
    arrears = (
        con.filter(pl.col("period") < "2021-07")
        .group_by("unit_id")
        .agg(arrears=(pl.col("due_fen") - pl.col("paid_fen")).clip(0, None).sum())
    )
    flags = t["credit_flags"]
    active = (
        flags.filter(
            (pl.col("listed_on") <= AS_OF) & (pl.col("removed_on").is_null() | (pl.col("removed_on") > AS_OF))
        )
        .group_by("credit_code")
        .agg(flags=pl.col("flag").unique())
    )
    confirmed = (
        t["dispatch_confirmations"].filter(pl.col("confirmed_on") <= AS_OF).select("unit_id").unique()
    ).with_columns(confirmed=pl.lit(True))
    df = t["units"]
    for other, key in (
        (h0_dec, "unit_id"),
        (h0_first, "unit_id"),
        (h1, "unit_id"),
        (nat, "unit_id"),
        (base, "unit_id"),
        (arrears, "unit_id"),
        (active, "credit_code"),
        (confirmed, "unit_id"),
    ):
        df = df.join(other, on=key, how="left")
    return df.with_columns(
        h0=pl.coalesce("h0_dec", "h0_first"),
        n=pl.col("n").fill_null(0),
        b=pl.col("b").fill_null(0),
        arrears=pl.col("arrears").fill_null(0),
        flags=pl.col("flags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        confirmed=pl.col("confirmed").fill_null(False),
    )


def _with_size(df: pl.DataFrame) -> pl.DataFrame:
    """Size class by indicators, declared, headcount (employees, else H0), or unknown."""
    df = df.with_columns(sizing.threshold_columns(sizing.size_row(pl.col("industry"))))
    x, y, z = pl.col("employees"), pl.col("revenue_yuan"), pl.col("assets_yuan")
    triples = ((x, "x"), (y, "y"), (z, "z"))

    def meets(band: str) -> pl.Expr:
        return pl.all_horizontal(
            [(v >= pl.col(f"_{band}_{i}")) | pl.col(f"_{band}_{i}").is_null() for v, i in triples]
        )

    complete = pl.all_horizontal([pl.col(f"_l_{i}").is_null() | v.is_not_null() for v, i in triples])
    table = pl.when(meets("l")).then(pl.lit("large")).when(meets("m")).then(pl.lit("medium"))
    table = table.when(meets("s")).then(pl.lit("small")).otherwise(pl.lit("micro"))
    head = pl.coalesce(x, pl.col("h0"))
    by_head = pl.when(head >= 300).then(pl.lit("large")).when(head >= 100).then(pl.lit("medium"))
    by_head = by_head.when(head >= 10).then(pl.lit("small")).otherwise(pl.lit("micro"))
    basis = pl.when(complete).then(pl.lit("indicators")).when(pl.col("size_class_declared").is_not_null())
    basis = (
        basis.then(pl.lit("declared"))
        .when(head.is_not_null())
        .then(pl.lit("headcount"))
        .otherwise(pl.lit("unknown"))
    )
    df = df.with_columns(size_basis=basis)
    size = pl.when(pl.col("size_basis") == "indicators").then(table).when(pl.col("size_basis") == "declared")
    size = size.then(pl.col("size_class_declared")).when(pl.col("size_basis") == "headcount").then(by_head)
    return df.with_columns(size=size)


def approximate_screening(drop: Path) -> pl.DataFrame:
    """Decision and amount per unit, approximately as ``beijing-2021`` at 2021-07-01 (calibration only)."""
    df = _with_size(_derived(_typed(drop)))
    h0, h1, ent = pl.col("h0"), pl.col("h1"), pl.col("unit_type") == "enterprise"
    limit_bp = pl.when(h0 <= 30).then(2000).otherwise(600)
    exceeded = (h0 > 0) & ((h0 - h1 - pl.col("n")).clip(0, None) * 10000 > limit_bp * h0)
    category = pl.when(~ent).then(pl.lit("sme")).when(pl.col("size") == "large").then(pl.lit("large"))
    category = category.when(pl.col("size").is_not_null()).then(pl.lit("sme"))
    df = df.with_columns(
        ratio_category=category,
        f_layoff=(exceeded & h1.is_not_null()).fill_null(False),
        failed=pl.any_horizontal(
            ~pl.col("unit_type").is_in(COVERED),
            pl.col("deregistered_on").is_not_null() & (pl.col("deregistered_on") <= AS_OF),
            pl.col("flags").list.contains("serious_dishonesty"),
            pl.col("arrears") > 0,
            pl.col("b") == 0,
            (exceeded & h1.is_not_null()).fill_null(False),
        ),
        review=h0.is_null()
        | h1.is_null()
        | (ent & pl.col("size").is_null())
        | pl.col("flags").list.contains("commitment_breach")
        | pl.col("flags").list.contains("abnormal_operation"),
        pending=(pl.col("dispatch") == 1) & ~pl.col("confirmed"),
    )
    decision = pl.when("failed").then(pl.lit("ineligible")).when("review").then(pl.lit("manual_review"))
    decision = decision.when("pending").then(pl.lit("pending_confirmation")).otherwise(pl.lit("eligible"))
    ratio_bp = pl.when(pl.col("ratio_category") == "large").then(3000).otherwise(6000)
    return df.with_columns(decision=decision, amount_fen=(pl.col("b") * ratio_bp + 5000) // 10000)


def test_calibration_against_the_beijing_2021_case_study(calibration_drop: Path) -> None:
    df = approximate_screening(calibration_drop)
    sme = df.filter(pl.col("ratio_category") == "sme")
    eligible = df.filter(pl.col("decision") == "eligible")
    sme_share = sme.filter(pl.col("decision") == "eligible").height / sme.height
    mean_yuan = eligible["amount_fen"].sum() / eligible.height / 100
    small_micro = eligible.filter(pl.col("size").is_in(["small", "micro"])).height / eligible.height
    known = df.filter(pl.col("h0").is_not_null() & pl.col("h1").is_not_null())
    exceeded = known.filter(pl.col("f_layoff")).height / known.height
    assert 0.64 <= sme_share <= 0.76, sme_share  # case study: SME coverage 69%
    assert 1_500 <= mean_yuan <= 3_000, mean_yuan  # case study: ¥982m / 441,300 units ≈ ¥2,225
    assert small_micro >= 0.85, small_micro
    assert 0.15 <= exceeded <= 0.25, exceeded
    assert set(df["decision"]) == {"eligible", "ineligible", "manual_review", "pending_confirmation"}
    assert set(df["size_basis"]) == {"indicators", "declared", "headcount", "unknown"}
    assert set(eligible["ratio_category"]) == {"sme", "large"}
