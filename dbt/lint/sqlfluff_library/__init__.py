"""Stand-ins for dbt's context and this project's macros, for sqlfluff's jinja templater.

sqlfluff renders each model with plain Jinja (no dbt, no warehouse connection); everything a model
calls besides sqlfluff's own dbt builtins (ref, source, config, is_incremental, this, return) is
defined here and renders valid DuckDB SQL close to what the real macro produces. Only the shape of
the SQL matters to the linter: rules skip templated code. Loaded through library_path in
../../.sqlfluff; every public name of this module is a name in the Jinja context.
"""

import re
from pathlib import Path
from types import SimpleNamespace

import yaml

_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project.yml"
_ENV_DEFAULT = re.compile(r"env_var\(\s*'[^']*'\s*,\s*'([^']*)'\s*\)")


def _project_vars() -> dict:
    """The vars of dbt_project.yml, with env_var(name, default) replaced by its default."""
    values = yaml.safe_load(_PROJECT.read_text()).get("vars", {}) or {}
    resolved = {}
    for name, value in values.items():
        if isinstance(value, str) and "env_var(" in value:
            match = _ENV_DEFAULT.search(value)
            value = match.group(1) if match else ""
        resolved[name] = value
    return resolved


_VARS = _project_vars()


def var(name, default=None):
    """dbt's var(): the project's value (env_var defaults applied), else the default given."""
    return _VARS.get(name, default if default is not None else "")


def env_var(name, default=""):
    """dbt's env_var(): the default (linting never depends on the environment)."""
    return default


def _hash(expression):
    return f"md5(cast({expression} as varchar))"


dbt = SimpleNamespace(
    type_string=lambda: "varchar",
    type_bigint=lambda: "bigint",
    type_float=lambda: "float",
    hash=_hash,
    concat=lambda parts: " || ".join(parts),
    datediff=lambda first, second, part: f"date_diff('{part}', {first}, {second})",
    date_trunc=lambda part, date: f"date_trunc('{part}', {date})",
    current_timestamp=lambda: "current_timestamp",
)

exceptions = SimpleNamespace(raise_compiler_error=lambda message="": "", warn=lambda message="": "")


# --- macros/staging -------------------------------------------------------------------------------
def clean_string(column):
    return f"nullif(trim({column}), '')"


def clean_id(column):
    return clean_string(column)


def keep_latest_landed(key):
    return (
        f"qualify row_number() over (\n        partition by {key}"
        " order by landed_file_name desc, landed_row_number desc\n    ) = 1"
    )


def landed_rows(relation, key, landed_source=None):
    """The real macro adds the file's sha (and, incrementally, a filter on affected keys) in a
    subquery; to the linter it is the relation itself."""
    return relation


def stage_identifies(source_table, sdk):
    return f"select\n    *,\n    '{sdk}' as source_sdk\nfrom rudderstack_{source_table}\n"


# --- macros/stitching ------------------------------------------------------------------------------
def stitch_hash_mask():
    return 2 ** 62 - 1


def stitch_node_hash(id_column, id_type):
    return f"cast(hash({id_column}, {id_type}) & {stitch_hash_mask()} as bigint)"


def sql_string_literal(value):
    return "'" + str(value).replace("'", "''") + "'"


# --- macros/publishing -----------------------------------------------------------------------------
def published_relation(schema, identifier):
    return None


# --- macros/marts and macros/utils -------------------------------------------------------------------
def reference_date():
    return "current_date"


def delete_vanished_rows(key, upstream, landed_file_sha=None):
    return ""


def is_incremental_with(columns, code_hash=None):
    return True


def regex_search(column, pattern):
    return f"regexp_matches({column}, {sql_string_literal(pattern)})"


def type_double():
    return "double"


def safe_divide(numerator, denominator):
    return (
        f"case when ({denominator}) = 0 then null"
        f" else cast(({numerator}) as double) / ({denominator}) end"
    )


def model_code_hash():
    return "0" * 32


def row_hash(columns):
    return f"hash({', '.join(columns)})"


def hash_sum(hash_column):
    return f"cast(sum({hash_column}) as varchar)"


def log_touched(key, noun):
    return ""


# --- macros/analytics ------------------------------------------------------------------------------
def basket_month(timestamp_column):
    return f"cast(date_trunc('month', {timestamp_column}) as date)"


def basket_product_counts(pair_counts):
    return (
        "select product_a_id as product_id, cast(sum(baskets) as bigint) as baskets"
        f" from {pair_counts} where product_a_id = product_b_id group by product_a_id"
    )


# --- dbt context values a model may read ------------------------------------------------------------
invocation_id = "00000000-0000-0000-0000-000000000000"


def local_md5(value):
    import hashlib

    return hashlib.md5(str(value).encode("utf-8")).hexdigest()
