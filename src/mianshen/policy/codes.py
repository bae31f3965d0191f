"""The public codes of screening (contracts §2): conditions, routes, decisions, size bases.

Kept apart so that the parameter loader (which checks the codes named in a parameter file) and the condition
registry (which defines what each code tests) share one list without importing each other.
"""

from __future__ import annotations

# Conditions, by the code written in `failed` (contracts §2.1). SIZE_UNKNOWN never fails: it is only unknown.
TYPE_NOT_COVERED = "TYPE_NOT_COVERED"
DEREGISTERED = "DEREGISTERED"
SERIOUS_DISHONESTY = "SERIOUS_DISHONESTY"
ARREARS = "ARREARS"
NO_PREMIUM = "NO_PREMIUM"
LAYOFF_RATE_EXCEEDED = "LAYOFF_RATE_EXCEEDED"
SIZE_UNKNOWN = "SIZE_UNKNOWN"
FULL_PAYMENT_SHORT = "FULL_PAYMENT_SHORT"

# The code written in `unknown` when the layoff rate cannot be computed.
HEADCOUNT_MISSING = "HEADCOUNT_MISSING"

CONDITION_CODES: tuple[str, ...] = (
    TYPE_NOT_COVERED,
    DEREGISTERED,
    SERIOUS_DISHONESTY,
    ARREARS,
    NO_PREMIUM,
    LAYOFF_RATE_EXCEEDED,
    SIZE_UNKNOWN,
    FULL_PAYMENT_SHORT,
)

# Routes: do not fail a unit, send it to another track.
COMMITMENT_BREACH = "COMMITMENT_BREACH"
ABNORMAL_OPERATION = "ABNORMAL_OPERATION"
DISPATCH_UNCONFIRMED = "DISPATCH_UNCONFIRMED"
ROUTE_CODES: tuple[str, ...] = (COMMITMENT_BREACH, ABNORMAL_OPERATION, DISPATCH_UNCONFIRMED)

# Decisions, in the order of the rule "first that applies".
INELIGIBLE = "ineligible"
MANUAL_REVIEW = "manual_review"
PENDING_CONFIRMATION = "pending_confirmation"
ELIGIBLE = "eligible"
DECISIONS: tuple[str, ...] = (INELIGIBLE, MANUAL_REVIEW, PENDING_CONFIRMATION, ELIGIBLE)
PAYABLE_DECISIONS: tuple[str, ...] = (ELIGIBLE, MANUAL_REVIEW, PENDING_CONFIRMATION)

# Outcomes of a condition.
PASS = "pass"
FAIL = "fail"
UNKNOWN = "unknown"
OUTCOMES: tuple[str, ...] = (PASS, FAIL, UNKNOWN)

# How the size class was found (contracts §2.1, rules 1-4).
SIZE_BASES: tuple[str, ...] = ("indicators", "declared", "headcount", "unknown")

RATIO_CATEGORIES: tuple[str, ...] = ("large", "sme")

# The columns of decisions.csv / decisions.parquet, in order (contracts §2.2).
DECISION_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "credit_code",
    "decision",
    "failed",
    "unknown",
    "routes",
    "base_headcount",
    "end_headcount",
    "natural_attrition",
    "layoff_rate",
    "layoff_limit",
    "size_class",
    "size_basis",
    "ratio_category",
    "ratio",
    "base_fen",
    "amount_fen",
)
DECISION_INT_COLUMNS: frozenset[str] = frozenset(
    {"base_headcount", "end_headcount", "natural_attrition", "base_fen", "amount_fen"}
)


# --- the retention-training family (一次性留工培训补助, retention-training-2022) -------------------------------------
# Conditions of that family (the first three are the refund's codes, the same tests on the same columns).
NOT_AFFECTED = "NOT_AFFECTED"  # no risk area in the city, and not a hardship industry under the extension
SIZE_NOT_COVERED = (
    "SIZE_NOT_COVERED"  # a size category the policy does not (yet) cover; unknown: SIZE_UNKNOWN
)
NO_INSURED = "NO_INSURED"  # nobody counts under the headcount rule in the reference month
RETENTION_CONDITION_CODES: tuple[str, ...] = (
    TYPE_NOT_COVERED,
    DEREGISTERED,
    SERIOUS_DISHONESTY,
    NOT_AFFECTED,
    SIZE_NOT_COVERED,
    NO_INSURED,
)
RETENTION_DECISIONS: tuple[str, ...] = (INELIGIBLE, MANUAL_REVIEW, ELIGIBLE)
RETENTION_PAYABLE: tuple[str, ...] = (ELIGIBLE, MANUAL_REVIEW)
# Why a unit is affected: its city had a risk area, or its industry is a hardship industry (31号 extension).
AFFECTED_BASES: tuple[str, ...] = ("risk_area", "hardship_industry")
HEADCOUNT_RULES: tuple[str, ...] = ("month_of_risk", "insured_months", "single_unit_in_month")
SIZE_CATEGORIES: tuple[str, ...] = ("large", "sme")

# The columns of the retention family's decisions.csv / .parquet, in order (docs/policy.md).
RETENTION_DECISION_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "credit_code",
    "decision",
    "failed",
    "unknown",
    "affected_basis",
    "reference_month",
    "headcount_rule",
    "headcount",
    "size_class",
    "size_basis",
    "size_category",
    "per_head_fen",
    "amount_fen",
)
RETENTION_DECISION_INT_COLUMNS: frozenset[str] = frozenset({"headcount", "per_head_fen", "amount_fen"})


# --- the job-expansion family (一次性扩岗补助, job-expansion-2022/-2023/-2025) ----------------------------------------
# Unit conditions (the first three are the refund's codes, the same tests on the same columns).
NO_ELIGIBLE_HIRE = "NO_ELIGIBLE_HIRE"  # no hire of the unit counts for it (see PERSON_REASONS)
JOB_CONDITION_CODES: tuple[str, ...] = (TYPE_NOT_COVERED, DEREGISTERED, SERIOUS_DISHONESTY, NO_ELIGIBLE_HIRE)
JOB_DECISIONS: tuple[str, ...] = (INELIGIBLE, ELIGIBLE)
JOB_PAYABLE: tuple[str, ...] = (ELIGIBLE,)
# Why one hire does not count, in the order they are judged (the first that holds is the hire's reason).
NOT_REGISTERED = "NOT_REGISTERED"  # the person is not in the graduate / unemployed-youth register
CATEGORY_NOT_COVERED = "CATEGORY_NOT_COVERED"  # category, graduation year or age outside the year's rule
HIRED_OUTSIDE_WINDOW = "HIRED_OUTSIDE_WINDOW"  # hired_on outside the hire window (or after the as-of date)
NO_CONTRACT = "NO_CONTRACT"  # no labour-contract start on or before the as-of date
SHORT_CONTRIBUTIONS = "SHORT_CONTRIBUTIONS"  # fewer contribution months than the minimum
HIRING_SUBSIDY = "HIRING_SUBSIDY"  # the person is on the one-off hiring subsidy's recipients list
ALREADY_PAID = "ALREADY_PAID"  # the person was paid this subsidy before (the person ledger)
UNIT_EXCLUDED = "UNIT_EXCLUDED"  # the hiring unit fails a unit condition
COUNTED_ELSEWHERE = "COUNTED_ELSEWHERE"  # the person counts for another enterprise (earliest hire)
PERSON_REASONS: tuple[str, ...] = (
    NOT_REGISTERED,
    CATEGORY_NOT_COVERED,
    HIRED_OUTSIDE_WINDOW,
    NO_CONTRACT,
    SHORT_CONTRIBUTIONS,
    HIRING_SUBSIDY,
    ALREADY_PAID,
    UNIT_EXCLUDED,
    COUNTED_ELSEWHERE,
)
PERSON_CATEGORIES: tuple[str, ...] = ("graduate", "unemployed_youth")

# The columns of the job-expansion family's decisions.csv / .parquet, in order (docs/policy.md).
JOB_DECISION_COLUMNS: tuple[str, ...] = (
    "unit_id",
    "credit_code",
    "decision",
    "failed",
    "unknown",
    "hires",
    "eligible_persons",
    "per_person_fen",
    "amount_fen",
)
JOB_DECISION_INT_COLUMNS: frozenset[str] = frozenset(
    {"hires", "eligible_persons", "per_person_fen", "amount_fen"}
)
