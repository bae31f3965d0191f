-- The beijing-2021 screening rule (contracts §2.1, §2.2) as plain, hand-tuned DuckDB SQL: the baseline that
-- `mianshen screen` is compared against (design.md §4). Run by bench/duckdb_screen.py, which substitutes
-- {drop} (the data-drop directory) and {out} (the output directory), runs the steps below in order (each step
-- starts with a `-- @step <name>` line and is timed on its own) and reads the result of the `summary` step.
--
-- Input: the Parquet files of a drop as `mianshen generate --format parquet` writes them (text as strings,
-- integers as any integer type, dates as DATE, months as 'YYYY-MM' text). bank_accounts is not read (screen does
-- not need it); dispatch_confirmations is required here (the generator always writes it).
--
-- What this baseline validates, so that the comparison with `mianshen screen` (which validates as it reads) is
-- fair. Every row of the tables screen reads is checked, and a row with an error is kept out of the facts:
--   * normalisation: text trimmed of spaces, empty text is null, credit_code upper-cased;
--   * REQUIRED_MISSING (every required column), NEGATIVE (every integer), BAD_ENUM (unit_type,
--     size_class_declared, dispatch in {0,1}, reason, flag), BAD_MONTH (month, period: a real YYYY-MM),
--     BAD_USCC (shape), BAD_CODE (industry 2-4 digits with a division 01-97, district 6 digits),
--     ID_AS_NUMBER (ids and codes in scientific notation), PAID_WITHOUT_DATE, DATES_REVERSED;
--   * DUPLICATE_KEY: units.unit_id, headcount (unit_id, month), contributions (unit_id, period): every row after
--     the first of its key in file order, whatever became of the first;
--   * UNKNOWN_UNIT: a fact row whose unit_id is not an accepted unit;
--   * warnings (counted, rows kept): USCC_CHECKSUM (GB 32100 check character), BAD_PHONE,
--     DUPLICATE_CREDIT_CODE among accepted units.
-- What it does not do (mianshen does): Unicode NFKC (DuckDB has no NFKC; only spaces are trimmed, not every
-- Unicode space), CSV input, Parquet integers or dates stored as text, type checks that make a file unusable
-- (exit 2), and the report's per-column message text: it counts rejected rows and problems per code (one per
-- code per row) instead of writing one report line per problem.
--
-- Hand tuning (each measured on the 1M-unit drop, see bench/README.md):
--   * each file is read once, into a temp table of normalised values (DuckDB's columnar in-memory format);
--   * checks on a column with few distinct values (months, enums) run on its distinct values, and rows are
--     looked up only when a value is bad; the scientific-notation regex runs only behind a cheap 'e'/'E' test;
--   * duplicate keys: one hash aggregate per key keeping only keys seen twice, then a join on that (usually
--     empty) set; unknown units: an anti-join against the accepted ids;
--   * facts: every table is filtered to the rows the rule needs before aggregating per unit, with FILTER
--     clauses instead of one pass per fact; all joins on unit_id against per-unit aggregates;
--   * decisions are materialised once (1 row per unit) and copied to CSV and Parquet.

-- @step settings
SET preserve_insertion_order = true;

-- text as the validator normalises it (spaces trimmed, empty is null); trim only the few values that need it
CREATE OR REPLACE TEMP MACRO norm(x) AS
    CASE WHEN x = '' OR x LIKE ' %' OR x LIKE '% ' THEN nullif(trim(x), '') ELSE x END;
-- ID_AS_NUMBER: a number in scientific notation (the regex only runs on values holding an e or E)
CREATE OR REPLACE TEMP MACRO is_sci(x) AS
    CASE WHEN contains(x, 'e') OR contains(x, 'E')
         THEN regexp_full_match(x, '[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[Ee][+-]?[0-9]+') ELSE false END;
CREATE OR REPLACE TEMP MACRO is_month(x) AS
    regexp_full_match(x, '[0-9]{4}-(0[1-9]|1[0-2])') AND x[1:4] <> '0000';
CREATE OR REPLACE TEMP MACRO is_uscc(x) AS
    regexp_full_match(x, '[0123456789ABCDEFGHJKLMNPQRTUWXY]{2}[0-9]{6}[0123456789ABCDEFGHJKLMNPQRTUWXY]{10}');
-- the GB 32100 check character of an 18-character code (weights 3^i mod 31, written out)
CREATE OR REPLACE TEMP MACRO uscc_check(x) AS
    '0123456789ABCDEFGHJKLMNPQRTUWXY'[
        (31 - (
            (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[1]) - 1) * 1
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[2]) - 1) * 3
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[3]) - 1) * 9
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[4]) - 1) * 27
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[5]) - 1) * 19
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[6]) - 1) * 26
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[7]) - 1) * 16
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[8]) - 1) * 17
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[9]) - 1) * 20
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[10]) - 1) * 29
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[11]) - 1) * 25
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[12]) - 1) * 13
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[13]) - 1) * 8
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[14]) - 1) * 24
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[15]) - 1) * 10
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[16]) - 1) * 30
            + (instr('0123456789ABCDEFGHJKLMNPQRTUWXY', x[17]) - 1) * 28
        ) % 31) % 31 + 1];

-- @step check_units
CREATE OR REPLACE TEMP TABLE units_raw AS
SELECT
    file_row_number + 2 AS line,
    norm(unit_id) AS unit_id,
    upper(norm(credit_code)) AS credit_code,
    norm(name) AS name,
    norm(unit_type) AS unit_type,
    norm(industry) AS industry,
    norm(district) AS district,
    dispatch::BIGINT AS dispatch,
    norm(size_class_declared) AS size_class_declared,
    employees::BIGINT AS employees,
    revenue_yuan::BIGINT AS revenue_yuan,
    assets_yuan::BIGINT AS assets_yuan,
    deregistered_on::DATE AS deregistered_on,
    norm(phone) AS phone
FROM read_parquet('{drop}/units.parquet', file_row_number = true);

CREATE OR REPLACE TEMP TABLE units_err AS
WITH dup AS (
    SELECT unit_id, min(line) AS first_line
    FROM units_raw
    WHERE unit_id IS NOT NULL
    GROUP BY unit_id
    HAVING count(*) > 1
),
checked AS (
    SELECT
        r.line,
        concat_ws(
            '|',
            CASE WHEN (NOT (regexp_full_match(r.industry, '[0-9]{2,4}')
                            AND TRY_CAST(substr(r.industry, 1, 2) AS INTEGER) BETWEEN 1 AND 97)
                       AND NOT is_sci(r.industry))
                   OR (NOT regexp_full_match(r.district, '[0-9]{6}') AND NOT is_sci(r.district))
                 THEN 'BAD_CODE' END,
            CASE WHEN r.unit_type NOT IN ('enterprise', 'social_organization', 'foundation',
                                          'social_service_institution', 'law_firm', 'accounting_firm',
                                          'individual_business', 'government_agency', 'public_institution',
                                          'other')
                   OR r.size_class_declared NOT IN ('large', 'medium', 'small', 'micro')
                   OR r.dispatch NOT IN (0, 1)
                 THEN 'BAD_ENUM' END,
            CASE WHEN NOT is_uscc(r.credit_code) AND NOT is_sci(r.credit_code) THEN 'BAD_USCC' END,
            CASE WHEN d.first_line IS NOT NULL AND r.line <> d.first_line THEN 'DUPLICATE_KEY' END,
            CASE WHEN is_sci(r.unit_id) OR is_sci(r.credit_code) OR is_sci(r.industry) OR is_sci(r.district)
                      OR is_sci(r.phone)
                 THEN 'ID_AS_NUMBER' END,
            CASE WHEN r.employees < 0 OR r.revenue_yuan < 0 OR r.assets_yuan < 0 THEN 'NEGATIVE' END,
            CASE WHEN r.unit_id IS NULL OR r.credit_code IS NULL OR r.name IS NULL OR r.unit_type IS NULL
                      OR r.industry IS NULL OR r.district IS NULL OR r.dispatch IS NULL
                 THEN 'REQUIRED_MISSING' END
        ) AS codes
    FROM units_raw r
    LEFT JOIN dup d ON d.unit_id = r.unit_id
)
SELECT line, codes FROM checked WHERE codes <> '';

CREATE OR REPLACE TEMP VIEW units_ok AS
SELECT * EXCLUDE (name, district, phone)
FROM units_raw
WHERE line NOT IN (SELECT line FROM units_err);

-- warnings (the rows are kept): counted only
CREATE OR REPLACE TEMP TABLE units_warn AS
SELECT
    count(*) FILTER (
        WHERE is_uscc(r.credit_code) AND r.credit_code[18] <> uscc_check(r.credit_code)
    ) AS uscc_checksum,
    count(*) FILTER (WHERE r.phone IS NOT NULL AND NOT regexp_full_match(r.phone, '1[0-9]{10}')) AS bad_phone,
    (SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM units_ok GROUP BY credit_code HAVING n > 1))
        AS duplicate_credit_code
FROM units_raw r
WHERE r.line NOT IN (SELECT line FROM units_err);

-- @step check_headcount
-- A fact table is read straight from its Parquet file each time it is needed (a scan is cheap; materialising
-- 22M rows is not).
CREATE OR REPLACE TEMP VIEW headcount_raw AS
SELECT file_row_number + 2 AS line, norm(unit_id) AS unit_id, norm(month) AS month, insured::BIGINT AS insured
FROM read_parquet('{drop}/headcount.parquet', file_row_number = true);

-- the distinct months, checked once each
CREATE OR REPLACE TEMP TABLE headcount_months AS
SELECT month, is_month(month) AS ok
FROM (SELECT DISTINCT month FROM headcount_raw WHERE month IS NOT NULL);

-- One aggregate per unit, in one pass: its rows, the distinct months among them (one bit per month, counted
-- from the earliest month of the file), whether a row has a problem of its own, and the unit's facts. A unit
-- whose two counts differ repeats a key, has a row without a valid month, or spans more than 127 months.
CREATE OR REPLACE TEMP TABLE headcount_profile AS
WITH keyed AS (
    SELECT
        *,
        TRY_CAST(substr(month, 1, 4) AS INTEGER) * 12 + TRY_CAST(substr(month, 6, 2) AS INTEGER)
            - (SELECT min(substr(month, 1, 4)::INTEGER * 12 + substr(month, 6, 2)::INTEGER)
               FROM headcount_months WHERE ok) AS idx
    FROM headcount_raw
)
SELECT
    unit_id,
    count(*) AS n,
    coalesce(bit_count(bit_or(CASE WHEN idx BETWEEN 0 AND 126 THEN (1::HUGEINT) << idx::HUGEINT END)), 0)
        AS distinct_keys,
    bool_or(insured IS NULL OR insured < 0) AS row_error,
    -- H0 (December of Y-1, else the first month of Y: A3) and H1 (December of Y)
    max(insured) FILTER (WHERE month = '2019-12') AS h_base,
    max(insured) FILTER (WHERE month = '2020-12') AS h_end,
    arg_min(insured, month) FILTER (WHERE month BETWEEN '2020-01' AND '2020-12') AS h_first
FROM keyed
GROUP BY unit_id;

-- the units whose rows need a closer look: repeated or invalid keys, rows with problems, unknown units
CREATE OR REPLACE TEMP TABLE headcount_suspects AS
SELECT unit_id
FROM headcount_profile p
WHERE p.n <> p.distinct_keys OR p.row_error OR p.unit_id IS NULL
   OR NOT EXISTS (SELECT 1 FROM units_ok u WHERE u.unit_id = p.unit_id)
UNION
SELECT unit_id FROM headcount_raw WHERE month IN (SELECT month FROM headcount_months WHERE NOT ok);

-- every error of the rows of those units (usually none)
CREATE OR REPLACE TEMP TABLE headcount_err AS
WITH scope AS (
    SELECT r.*
    FROM headcount_raw r
    SEMI JOIN headcount_suspects s ON r.unit_id IS NOT DISTINCT FROM s.unit_id
),
checked AS (
    SELECT
        line,
        unit_id,
        month,
        insured,
        concat_ws(
            '|',
            CASE WHEN NOT is_month(month) THEN 'BAD_MONTH' END,
            CASE WHEN unit_id IS NOT NULL AND month IS NOT NULL
                      AND row_number() OVER (PARTITION BY unit_id, month ORDER BY line) > 1
                 THEN 'DUPLICATE_KEY' END,
            CASE WHEN is_sci(unit_id) THEN 'ID_AS_NUMBER' END,
            CASE WHEN insured < 0 THEN 'NEGATIVE' END,
            CASE WHEN unit_id IS NULL OR month IS NULL OR insured IS NULL THEN 'REQUIRED_MISSING' END,
            CASE WHEN unit_id IS NOT NULL AND NOT is_sci(unit_id) AND unit_id NOT IN (SELECT unit_id FROM units_ok)
                 THEN 'UNKNOWN_UNIT' END
        ) AS codes
    FROM scope
)
SELECT * FROM checked;

-- the facts: from the profile, and for the suspect units from their accepted rows
CREATE OR REPLACE TEMP TABLE headcount_facts AS
SELECT unit_id, coalesce(h_base, h_first) AS h0, h_end AS h1
FROM headcount_profile p
WHERE unit_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM headcount_suspects s WHERE s.unit_id = p.unit_id)
UNION ALL
SELECT
    unit_id,
    coalesce(max(insured) FILTER (WHERE month = '2019-12'),
             arg_min(insured, month) FILTER (WHERE month BETWEEN '2020-01' AND '2020-12')) AS h0,
    max(insured) FILTER (WHERE month = '2020-12') AS h1
FROM headcount_err
WHERE codes = ''
GROUP BY unit_id;

-- @step check_separations
CREATE OR REPLACE TEMP VIEW separations_raw AS
SELECT
    file_row_number + 2 AS line,
    norm(unit_id) AS unit_id,
    norm(month) AS month,
    norm(reason) AS reason,
    persons::BIGINT AS persons
FROM read_parquet('{drop}/separations.parquet', file_row_number = true);

CREATE OR REPLACE TEMP TABLE separations_err AS
WITH bad_month AS (
    SELECT month FROM (SELECT DISTINCT month FROM separations_raw WHERE month IS NOT NULL)
    WHERE NOT is_month(month)
),
checked AS (
    SELECT
        r.line,
        concat_ws(
            '|',
            CASE WHEN r.reason NOT IN ('retirement', 'death', 'resignation', 'dismissal', 'contract_end',
                                       'transfer', 'other')
                 THEN 'BAD_ENUM' END,
            CASE WHEN r.month IN (SELECT month FROM bad_month) THEN 'BAD_MONTH' END,
            CASE WHEN is_sci(r.unit_id) THEN 'ID_AS_NUMBER' END,
            CASE WHEN r.persons < 0 THEN 'NEGATIVE' END,
            CASE WHEN r.unit_id IS NULL OR r.month IS NULL OR r.reason IS NULL OR r.persons IS NULL
                 THEN 'REQUIRED_MISSING' END,
            CASE WHEN r.unit_id IS NOT NULL AND u.unit_id IS NULL AND NOT is_sci(r.unit_id) THEN 'UNKNOWN_UNIT' END
        ) AS codes
    FROM separations_raw r
    LEFT JOIN (SELECT unit_id FROM units_ok) u ON u.unit_id = r.unit_id
)
SELECT line, codes FROM checked WHERE codes <> '';

-- @step check_contributions
CREATE OR REPLACE TEMP VIEW contributions_raw AS
SELECT
    file_row_number + 2 AS line,
    norm(unit_id) AS unit_id,
    norm(period) AS period,
    due_fen::BIGINT AS due_fen,
    paid_fen::BIGINT AS paid_fen,
    paid_on::DATE AS paid_on
FROM read_parquet('{drop}/contributions.parquet', file_row_number = true);

CREATE OR REPLACE TEMP TABLE contributions_periods AS
SELECT period, is_month(period) AS ok
FROM (SELECT DISTINCT period FROM contributions_raw WHERE period IS NOT NULL);

CREATE OR REPLACE TEMP TABLE contributions_profile AS
WITH keyed AS (
    SELECT
        *,
        TRY_CAST(substr(period, 1, 4) AS INTEGER) * 12 + TRY_CAST(substr(period, 6, 2) AS INTEGER)
            - (SELECT min(substr(period, 1, 4)::INTEGER * 12 + substr(period, 6, 2)::INTEGER)
               FROM contributions_periods WHERE ok) AS idx
    FROM contributions_raw
)
SELECT
    unit_id,
    count(*) AS n,
    coalesce(bit_count(bit_or(CASE WHEN idx BETWEEN 0 AND 126 THEN (1::HUGEINT) << idx::HUGEINT END)), 0)
        AS distinct_keys,
    bool_or(due_fen IS NULL OR paid_fen IS NULL OR due_fen < 0 OR paid_fen < 0
            OR (paid_fen > 0 AND paid_on IS NULL)) AS row_error,
    -- B: premiums of Y paid by the end of Y (A4); arrears: unpaid premiums of periods before the as-of month
    sum(paid_fen) FILTER (WHERE period BETWEEN '2020-01' AND '2020-12' AND paid_on <= DATE '2020-12-31')
        AS base_fen,
    sum(due_fen - paid_fen) FILTER (WHERE period < '2021-07' AND due_fen > paid_fen) AS arrears_fen
FROM keyed
GROUP BY unit_id;

CREATE OR REPLACE TEMP TABLE contributions_suspects AS
SELECT unit_id
FROM contributions_profile p
WHERE p.n <> p.distinct_keys OR p.row_error OR p.unit_id IS NULL
   OR NOT EXISTS (SELECT 1 FROM units_ok u WHERE u.unit_id = p.unit_id)
UNION
SELECT unit_id FROM contributions_raw WHERE period IN (SELECT period FROM contributions_periods WHERE NOT ok);

CREATE OR REPLACE TEMP TABLE contributions_err AS
WITH scope AS (
    SELECT r.*
    FROM contributions_raw r
    SEMI JOIN contributions_suspects s ON r.unit_id IS NOT DISTINCT FROM s.unit_id
),
checked AS (
    SELECT
        *,
        concat_ws(
            '|',
            CASE WHEN NOT is_month(period) THEN 'BAD_MONTH' END,
            CASE WHEN unit_id IS NOT NULL AND period IS NOT NULL
                      AND row_number() OVER (PARTITION BY unit_id, period ORDER BY line) > 1
                 THEN 'DUPLICATE_KEY' END,
            CASE WHEN is_sci(unit_id) THEN 'ID_AS_NUMBER' END,
            CASE WHEN due_fen < 0 OR paid_fen < 0 THEN 'NEGATIVE' END,
            CASE WHEN paid_fen > 0 AND paid_on IS NULL THEN 'PAID_WITHOUT_DATE' END,
            CASE WHEN unit_id IS NULL OR period IS NULL OR due_fen IS NULL OR paid_fen IS NULL
                 THEN 'REQUIRED_MISSING' END,
            CASE WHEN unit_id IS NOT NULL AND NOT is_sci(unit_id) AND unit_id NOT IN (SELECT unit_id FROM units_ok)
                 THEN 'UNKNOWN_UNIT' END
        ) AS codes
    FROM scope
)
SELECT * FROM checked;

CREATE OR REPLACE TEMP TABLE contributions_facts AS
SELECT unit_id, base_fen, arrears_fen
FROM contributions_profile p
WHERE unit_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contributions_suspects s WHERE s.unit_id = p.unit_id)
UNION ALL
SELECT
    unit_id,
    sum(paid_fen) FILTER (WHERE period BETWEEN '2020-01' AND '2020-12' AND paid_on <= DATE '2020-12-31'),
    sum(due_fen - paid_fen) FILTER (WHERE period < '2021-07' AND due_fen > paid_fen)
FROM contributions_err
WHERE codes = ''
GROUP BY unit_id;

-- @step check_flags_confirmations
CREATE OR REPLACE TEMP TABLE flags_raw AS
SELECT
    file_row_number + 2 AS line,
    upper(norm(credit_code)) AS credit_code,
    norm(flag) AS flag,
    listed_on::DATE AS listed_on,
    removed_on::DATE AS removed_on,
    norm(source) AS source
FROM read_parquet('{drop}/credit_flags.parquet', file_row_number = true);

CREATE OR REPLACE TEMP TABLE flags_err AS
WITH checked AS (
    SELECT
        line,
        concat_ws(
            '|',
            CASE WHEN flag NOT IN ('serious_dishonesty', 'abnormal_operation', 'commitment_breach')
                 THEN 'BAD_ENUM' END,
            CASE WHEN NOT is_uscc(credit_code) AND NOT is_sci(credit_code) THEN 'BAD_USCC' END,
            CASE WHEN removed_on < listed_on THEN 'DATES_REVERSED' END,
            CASE WHEN is_sci(credit_code) THEN 'ID_AS_NUMBER' END,
            CASE WHEN credit_code IS NULL OR flag IS NULL OR listed_on IS NULL OR source IS NULL
                 THEN 'REQUIRED_MISSING' END
        ) AS codes
    FROM flags_raw
)
SELECT line, codes FROM checked WHERE codes <> '';

CREATE OR REPLACE TEMP TABLE flags_warn AS
SELECT count(*) FILTER (WHERE is_uscc(credit_code) AND credit_code[18] <> uscc_check(credit_code)) AS uscc_checksum
FROM flags_raw;

CREATE OR REPLACE TEMP TABLE confirmations_raw AS
SELECT
    file_row_number + 2 AS line,
    norm(unit_id) AS unit_id,
    confirmed_on::DATE AS confirmed_on
FROM read_parquet('{drop}/dispatch_confirmations.parquet', file_row_number = true);

CREATE OR REPLACE TEMP TABLE confirmations_err AS
WITH checked AS (
    SELECT
        r.line,
        concat_ws(
            '|',
            CASE WHEN is_sci(r.unit_id) THEN 'ID_AS_NUMBER' END,
            CASE WHEN r.unit_id IS NULL OR r.confirmed_on IS NULL THEN 'REQUIRED_MISSING' END,
            CASE WHEN r.unit_id IS NOT NULL AND u.unit_id IS NULL AND NOT is_sci(r.unit_id) THEN 'UNKNOWN_UNIT' END
        ) AS codes
    FROM confirmations_raw r
    LEFT JOIN (SELECT unit_id FROM units_ok) u ON u.unit_id = r.unit_id
)
SELECT line, codes FROM checked WHERE codes <> '';

-- @step facts
-- Per-unit facts from the accepted rows only (data year Y = 2020, as-of 2021-07-01); headcount and
-- contributions were aggregated with their checks above.
CREATE OR REPLACE TEMP VIEW facts AS
WITH sep AS (
    SELECT unit_id, sum(persons) AS natural_attrition
    FROM separations_raw
    WHERE month BETWEEN '2020-01' AND '2020-12' AND reason IN ('retirement', 'death')
      AND line NOT IN (SELECT line FROM separations_err)
    GROUP BY unit_id
),
flg AS (
    SELECT
        credit_code,
        bool_or(flag = 'serious_dishonesty') AS serious_dishonesty,
        bool_or(flag = 'commitment_breach') AS commitment_breach,
        bool_or(flag = 'abnormal_operation') AS abnormal_operation
    FROM flags_raw
    WHERE listed_on <= DATE '2021-07-01' AND (removed_on IS NULL OR removed_on > DATE '2021-07-01')
      AND line NOT IN (SELECT line FROM flags_err)
    GROUP BY credit_code
),
cnf AS (
    SELECT DISTINCT unit_id
    FROM confirmations_raw
    WHERE confirmed_on <= DATE '2021-07-01'
      AND line NOT IN (SELECT line FROM confirmations_err)
)
SELECT
    u.unit_id,
    u.credit_code,
    u.unit_type,
    u.industry,
    u.dispatch,
    u.size_class_declared,
    u.employees,
    u.revenue_yuan,
    u.assets_yuan,
    u.deregistered_on,
    hc.h0,
    hc.h1,
    coalesce(sep.natural_attrition, 0) AS natural_attrition,
    coalesce(con.base_fen, 0) AS base_fen,
    coalesce(con.arrears_fen, 0) AS arrears_fen,
    coalesce(flg.serious_dishonesty, false) AS serious_dishonesty,
    coalesce(flg.commitment_breach, false) AS commitment_breach,
    coalesce(flg.abnormal_operation, false) AS abnormal_operation,
    cnf.unit_id IS NOT NULL AS confirmed
FROM units_ok u
LEFT JOIN headcount_facts hc ON hc.unit_id = u.unit_id
LEFT JOIN sep ON sep.unit_id = u.unit_id
LEFT JOIN contributions_facts con ON con.unit_id = u.unit_id
LEFT JOIN flg ON flg.credit_code = u.credit_code
LEFT JOIN cnf ON cnf.unit_id = u.unit_id;

-- @step decide
-- The 2017 size table (国统字〔2017〕213号): lower bounds of large / medium / small; X employees, Y revenue and
-- Z assets in 万元 (x 10,000 yuan); NULL where the row does not use the indicator.
CREATE OR REPLACE TEMP TABLE size_rows AS
SELECT * FROM (VALUES
    ('agriculture', NULL, NULL, NULL, 20000, 500, 50, NULL, NULL, NULL),
    ('industry', 1000, 300, 20, 40000, 2000, 300, NULL, NULL, NULL),
    ('construction', NULL, NULL, NULL, 80000, 6000, 300, 80000, 5000, 300),
    ('wholesale', 200, 20, 5, 40000, 5000, 1000, NULL, NULL, NULL),
    ('retail', 300, 50, 10, 20000, 500, 100, NULL, NULL, NULL),
    ('transport', 1000, 300, 20, 30000, 3000, 200, NULL, NULL, NULL),
    ('warehousing', 200, 100, 20, 30000, 1000, 100, NULL, NULL, NULL),
    ('postal', 1000, 300, 20, 30000, 2000, 100, NULL, NULL, NULL),
    ('accommodation_catering', 300, 100, 10, 10000, 2000, 100, NULL, NULL, NULL),
    ('telecom', 2000, 100, 10, 100000, 1000, 100, NULL, NULL, NULL),
    ('software', 300, 100, 10, 10000, 1000, 50, NULL, NULL, NULL),
    ('real_estate_development', NULL, NULL, NULL, 200000, 1000, 100, 10000, 5000, 2000),
    ('property_management', 1000, 300, 100, 5000, 1000, 500, NULL, NULL, NULL),
    ('leasing_business', 300, 100, 10, NULL, NULL, NULL, 120000, 8000, 100),
    ('other', 300, 100, 10, NULL, NULL, NULL, NULL, NULL, NULL)
) AS t(size_row, x_l, x_m, x_s, y_l, y_m, y_s, z_l, z_m, z_s);

CREATE OR REPLACE TEMP TABLE decisions AS
WITH sized AS (
    SELECT
        f.*,
        CASE
            WHEN f.industry LIKE '701%' THEN 'real_estate_development'
            WHEN f.industry LIKE '702%' THEN 'property_management'
            ELSE CASE
                WHEN substr(f.industry, 1, 2) BETWEEN '01' AND '05' THEN 'agriculture'
                WHEN substr(f.industry, 1, 2) BETWEEN '06' AND '46' THEN 'industry'
                WHEN substr(f.industry, 1, 2) BETWEEN '47' AND '50' THEN 'construction'
                WHEN substr(f.industry, 1, 2) = '51' THEN 'wholesale'
                WHEN substr(f.industry, 1, 2) = '52' THEN 'retail'
                WHEN substr(f.industry, 1, 2) BETWEEN '54' AND '58' THEN 'transport'
                WHEN substr(f.industry, 1, 2) = '59' THEN 'warehousing'
                WHEN substr(f.industry, 1, 2) = '60' THEN 'postal'
                WHEN substr(f.industry, 1, 2) IN ('61', '62') THEN 'accommodation_catering'
                WHEN substr(f.industry, 1, 2) IN ('63', '64') THEN 'telecom'
                WHEN substr(f.industry, 1, 2) = '65' THEN 'software'
                WHEN substr(f.industry, 1, 2) IN ('71', '72') THEN 'leasing_business'
                ELSE 'other'
            END
        END AS row_key
    FROM facts f
),
banded AS (
    SELECT
        z.*,
        (r.x_l IS NULL OR z.employees IS NOT NULL)
            AND (r.y_l IS NULL OR z.revenue_yuan IS NOT NULL)
            AND (r.z_l IS NULL OR z.assets_yuan IS NOT NULL) AS complete,
        CASE
            WHEN (r.x_l IS NULL OR z.employees >= r.x_l)
                 AND (r.y_l IS NULL OR z.revenue_yuan >= r.y_l * 10000)
                 AND (r.z_l IS NULL OR z.assets_yuan >= r.z_l * 10000) THEN 'large'
            WHEN (r.x_m IS NULL OR z.employees >= r.x_m)
                 AND (r.y_m IS NULL OR z.revenue_yuan >= r.y_m * 10000)
                 AND (r.z_m IS NULL OR z.assets_yuan >= r.z_m * 10000) THEN 'medium'
            WHEN (r.x_s IS NULL OR z.employees >= r.x_s)
                 AND (r.y_s IS NULL OR z.revenue_yuan >= r.y_s * 10000)
                 AND (r.z_s IS NULL OR z.assets_yuan >= r.z_s * 10000) THEN 'small'
            ELSE 'micro'
        END AS indicator_band,
        coalesce(z.employees, z.h0) AS size_headcount
    FROM sized z
    JOIN size_rows r ON r.size_row = z.row_key
),
classified AS (
    SELECT
        b.*,
        CASE
            WHEN complete THEN indicator_band
            WHEN size_class_declared IS NOT NULL THEN size_class_declared
            WHEN size_headcount IS NOT NULL THEN
                CASE WHEN size_headcount >= 300 THEN 'large' WHEN size_headcount >= 100 THEN 'medium'
                     WHEN size_headcount >= 10 THEN 'small' ELSE 'micro' END
        END AS size_class,
        CASE
            WHEN complete THEN 'indicators'
            WHEN size_class_declared IS NOT NULL THEN 'declared'
            WHEN size_headcount IS NOT NULL THEN 'headcount'
            ELSE 'unknown'
        END AS size_basis,
        CASE WHEN h0 IS NOT NULL AND h1 IS NOT NULL THEN greatest(h0 - h1 - natural_attrition, 0) END AS layoffs,
        CASE WHEN h0 IS NULL THEN NULL WHEN h0 <= 30 THEN 2000 ELSE 600 END AS limit_bp
    FROM banded b
),
judged AS (
    SELECT
        c.*,
        CASE WHEN unit_type <> 'enterprise' THEN 'sme'
             WHEN size_class = 'large' THEN 'large'
             WHEN size_class IN ('medium', 'small', 'micro') THEN 'sme' END AS ratio_category,
        unit_type NOT IN ('enterprise', 'social_organization', 'foundation', 'social_service_institution',
                          'law_firm', 'individual_business') AS f_type,
        coalesce(deregistered_on <= DATE '2021-07-01', false) AS f_dereg,
        serious_dishonesty AS f_dishonesty,
        arrears_fen > 0 AS f_arrears,
        base_fen = 0 AS f_premium,
        coalesce(layoffs * 10000 > limit_bp * h0, false) AS f_layoff,
        layoffs IS NULL AS u_headcount,
        unit_type = 'enterprise' AND size_class IS NULL AS u_size,
        dispatch = 1 AND NOT confirmed AS r_dispatch
    FROM classified c
),
decided AS (
    SELECT
        j.*,
        CASE ratio_category WHEN 'large' THEN 3000 WHEN 'sme' THEN 6000 END AS ratio_bp,
        CASE
            WHEN f_type OR f_dereg OR f_dishonesty OR f_arrears OR f_premium OR f_layoff THEN 'ineligible'
            WHEN u_headcount OR u_size OR commitment_breach OR abnormal_operation THEN 'manual_review'
            WHEN r_dispatch THEN 'pending_confirmation'
            ELSE 'eligible'
        END AS decision
    FROM judged j
)
SELECT
    unit_id,
    credit_code,
    decision,
    nullif(concat_ws('|',
        CASE WHEN f_arrears THEN 'ARREARS' END,
        CASE WHEN f_dereg THEN 'DEREGISTERED' END,
        CASE WHEN f_layoff THEN 'LAYOFF_RATE_EXCEEDED' END,
        CASE WHEN f_premium THEN 'NO_PREMIUM' END,
        CASE WHEN f_dishonesty THEN 'SERIOUS_DISHONESTY' END,
        CASE WHEN f_type THEN 'TYPE_NOT_COVERED' END), '') AS failed,
    nullif(concat_ws('|',
        CASE WHEN u_headcount THEN 'HEADCOUNT_MISSING' END,
        CASE WHEN u_size THEN 'SIZE_UNKNOWN' END), '') AS unknown,
    nullif(concat_ws('|',
        CASE WHEN abnormal_operation THEN 'ABNORMAL_OPERATION' END,
        CASE WHEN commitment_breach THEN 'COMMITMENT_BREACH' END,
        CASE WHEN r_dispatch THEN 'DISPATCH_UNCONFIRMED' END), '') AS routes,
    h0 AS base_headcount,
    h1 AS end_headcount,
    natural_attrition,
    -- r = layoffs / H0 half-up to 4 decimals, in integers; 0 when H0 = 0
    CASE WHEN layoffs IS NULL THEN NULL
         WHEN h0 = 0 THEN '0.0000'
         ELSE ((2 * layoffs * 10000 + h0) // (2 * h0) // 10000)::VARCHAR || '.'
              || lpad(((2 * layoffs * 10000 + h0) // (2 * h0) % 10000)::VARCHAR, 4, '0')
    END AS layoff_rate,
    CASE limit_bp WHEN 600 THEN '0.06' WHEN 2000 THEN '0.20' END AS layoff_limit,
    size_class,
    size_basis,
    ratio_category,
    CASE ratio_bp WHEN 3000 THEN '0.30' WHEN 6000 THEN '0.60' END AS ratio,
    base_fen,
    CASE WHEN decision <> 'ineligible' AND ratio_bp IS NOT NULL THEN (base_fen * ratio_bp + 5000) // 10000
         ELSE 0 END AS amount_fen
FROM decided
ORDER BY unit_id;

-- @step write_csv
COPY decisions TO '{out}/decisions.csv' (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', NEW_LINE '\n');

-- @step write_parquet
COPY decisions TO '{out}/decisions.parquet' (FORMAT parquet, COMPRESSION zstd);

-- @step rejected
-- every rejected row with its error codes (sorted, |-joined), as the validator keeps them aside
SELECT 'units' AS table_name, line, codes FROM units_err
UNION ALL SELECT 'headcount', line, codes FROM headcount_err WHERE codes <> ''
UNION ALL SELECT 'separations', line, codes FROM separations_err
UNION ALL SELECT 'contributions', line, codes FROM contributions_err WHERE codes <> ''
UNION ALL SELECT 'credit_flags', line, codes FROM flags_err
UNION ALL SELECT 'dispatch_confirmations', line, codes FROM confirmations_err
ORDER BY table_name, line;

-- @step summary
SELECT
    (SELECT count(*) FROM decisions) AS units_decided,
    (SELECT count(*) FROM units_err) AS rejected_units,
    (SELECT count(*) FROM headcount_err WHERE codes <> '') AS rejected_headcount,
    (SELECT count(*) FROM separations_err) AS rejected_separations,
    (SELECT count(*) FROM contributions_err WHERE codes <> '') AS rejected_contributions,
    (SELECT count(*) FROM flags_err) AS rejected_credit_flags,
    (SELECT count(*) FROM confirmations_err) AS rejected_dispatch_confirmations,
    (SELECT uscc_checksum FROM units_warn) + (SELECT uscc_checksum FROM flags_warn) AS warn_uscc_checksum,
    (SELECT bad_phone FROM units_warn) AS warn_bad_phone,
    (SELECT duplicate_credit_code FROM units_warn) AS warn_duplicate_credit_code;
