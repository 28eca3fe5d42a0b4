"""The synthetic landing-data generator: contract conformance, determinism and the shapes the
identity-stitching layer is tested against, all on real files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import include.synthetic as generator
from include.synthetic import SOURCES, generate

CONTRACT = Path(__file__).resolve().parents[3] / "include" / "contracts" / "sources.yml"
CUSTOMERS = 500

PARQUET_TYPES = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "decimal(18,2)": pa.decimal128(18, 2),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
}


def contract() -> dict[str, dict[str, dict]]:
    """Source -> column -> spec, with same_columns_as resolved."""
    raw = yaml.safe_load(CONTRACT.read_text())["sources"]
    return {
        name: {
            col: spec or {}
            for col, spec in raw[spec.get("same_columns_as", name)]["columns"].items()
        }
        for name, spec in raw.items()
    }


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landing_csv")
    generate(out, num_customers=CUSTOMERS, seed=42)
    return out


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landing_parquet")
    generate(out, num_customers=CUSTOMERS, seed=42, file_format="parquet")
    return out


@pytest.fixture(scope="module")
def con(csv_dir: Path) -> duckdb.DuckDBPyConnection:
    """The CSV landing files as views, read the way the loader reads them (text, then cast)."""
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    for source in SOURCES:
        connection.execute(
            f"create view {source} as select * from read_csv('{csv_dir / source}/*.csv', "
            "all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"')"
        )
    connection.execute(
        "create view events as select * from identifies_js union all select * from identifies_ruby"
    )
    # Events that link an anonymous_id to a user_id: the edges of the identity graph.
    connection.execute(
        "create view links as select * from events "
        "where nullif(user_id, '') is not null and nullif(anonymous_id, '') is not null"
    )
    return connection


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def count(con: duckdb.DuckDBPyConnection, table: str, where: str = "true") -> int:
    return scalar(con, f"select count(*) from {table} where {where}")


def test_contract_is_readable() -> None:
    assert set(contract()) == set(SOURCES)


def test_every_source_has_exactly_the_contract_columns(
    csv_dir: Path, con: duckdb.DuckDBPyConnection
) -> None:
    for source, columns in contract().items():
        files = sorted((csv_dir / source).iterdir())
        assert [f.name for f in files] == ["part-00000.csv"]
        header = [row[0] for row in con.execute(f"describe {source}").fetchall()]
        assert header == list(columns), source
        assert scalar(con, f"select count(*) from {source}") > 0, source


def test_required_values_present_and_typed(con: duckdb.DuckDBPyConnection) -> None:
    for source, columns in contract().items():
        for column, spec in columns.items():
            if spec.get("required"):
                blank = scalar(
                    con, f"select count(*) from {source} where nullif(trim({column}), '') is null"
                )
                assert blank == 0, f"{source}.{column} has blank required values"
            kind = str(spec.get("type", "string")).replace(" ", "")
            if kind != "string":
                sql_type = {"timestamp": "timestamptz", "integer": "bigint"}.get(kind, kind)
                bad = scalar(
                    con,
                    f"select count(*) from {source} where nullif({column}, '') is not null "
                    f"and try_cast({column} as {sql_type}) is null",
                )
                assert bad == 0, f"{source}.{column} has values that are not {kind}"


def test_accepted_values_and_floors(con: duckdb.DuckDBPyConnection) -> None:
    accepted = contract()["orders"]["status"]["accepted_values"]
    statuses = {row[0] for row in con.execute("select distinct status from orders").fetchall()}
    assert statuses == set(accepted)
    assert scalar(con, "select min(quantity::int) from order_items") >= 1
    assert scalar(con, "select max(quantity::int) from order_items") <= 5


def test_keys_unique_and_references_resolve(con: duckdb.DuckDBPyConnection) -> None:
    keys = {"identifies_js": "id", "identifies_ruby": "id", "orders": "order_id",
            "order_items": "order_item_id", "products": "product_id", "designs": "design_id"}
    for source, key in keys.items():
        assert scalar(con, f"select count(*) - count(distinct {key}) from {source}") == 0, source
    assert count(con, "order_items", "order_id not in (select order_id from orders)") == 0
    assert count(con, "orders", "order_id not in (select order_id from order_items)") == 0
    assert count(con, "order_items", "product_id not in (select product_id from products)") == 0
    assert count(con, "order_items", "design_id not in (select design_id from designs)") == 0
    assert count(con, "order_items", "design_id is null") > 0


def test_order_amounts_add_up(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        """
        select o.subtotal_usd, o.revenue_usd, o.refund_amount_usd, o.status, i.lines
        from orders o join (
            select order_id, list(quantity || '*' || unit_price_usd) as lines
            from order_items group by order_id
        ) i using (order_id)
        """
    ).fetchall()
    assert len(rows) == count(con, "orders")
    for subtotal, revenue, refund, status, lines in rows:
        items = sum(int(q) * Decimal(p) for q, p in (line.split("*") for line in lines))
        assert Decimal(subtotal) == items
        assert Decimal(revenue) >= Decimal(subtotal)
        for amount in (subtotal, revenue):
            assert len(amount.split(".")[1]) == 2
        if status == "refunded":
            assert Decimal("0") < Decimal(refund) <= Decimal(revenue)
        else:
            assert refund is None or Decimal(refund) == 0


def test_timestamps_are_iso_utc_before_the_reference_date(con: duckdb.DuckDBPyConnection) -> None:
    sample = scalar(con, "select min(timestamp) from identifies_js")
    assert len(sample) == 20 and sample[10] == "T" and sample.endswith("Z")
    for source, column in [("events", "timestamp"), ("events", "received_at"),
                           ("orders", "ordered_at")]:
        low, high = con.execute(
            f"select min({column}::timestamptz), max({column}::timestamptz) from {source}"
        ).fetchone()
        assert high.isoformat() < "2026-11-01T01"  # received_at may trail by minutes
        assert low.isoformat() > "2024-10-31"
    assert count(con, "events", "received_at::timestamptz < timestamp::timestamptz") == 0


def linked_to_more_than(con: duckdb.DuckDBPyConnection, key: str, other: str, limit: int) -> int:
    """How many non-template ids of one kind are linked to more than limit ids of the other."""
    return scalar(
        con,
        f"select count(*) from (select {key} from links where {key} not like '#{{%' "
        f"group by 1 having count(distinct {other}) > {limit})",
    )


def test_identify_shapes(con: duckdb.DuckDBPyConnection) -> None:
    # Kiosk/bot devices (at least 2): an anonymous_id linked to more than 5 user_ids.
    assert linked_to_more_than(con, "anonymous_id", "user_id", 5) >= 2
    # Shared accounts: a user_id linked to more than 100 anonymous_ids.
    assert linked_to_more_than(con, "user_id", "anonymous_id", 100) >= 1
    # Template ids, each linked to many people.
    assert scalar(con, "select count(distinct user_id) from links "
                       "where anonymous_id = '#{anonymousId}'") > 5
    assert scalar(con, "select count(distinct anonymous_id) from links "
                       "where user_id = '#{userId}'") > 5
    # Family devices and re-registered people: devices with two to four user_ids.
    assert scalar(con, "select count(*) from (select anonymous_id from links group by 1 "
                       "having count(distinct user_id) between 2 and 4)") > 0
    assert count(con, "events", "nullif(user_id, '') is null") > 0  # anonymous-only
    assert count(con, "identifies_ruby", "nullif(anonymous_id, '') is null") > 0  # user-only
    assert count(con, "events", "length(user_id) = 40") > 0  # SHA1 of an e-mail
    assert count(con, "events", "context_traits_email like '%@%'") > 0
    libraries = con.execute(
        "select distinct context_library_name from identifies_js union all "
        "select distinct context_library_name from identifies_ruby"
    ).fetchall()
    assert libraries == [("analytics.js",), ("rudder-sdk-ruby",)]
    js, ruby = count(con, "identifies_js"), count(con, "identifies_ruby")
    assert 0.55 < js / (js + ruby) < 0.85


def test_order_users_are_identified(con: duckdb.DuckDBPyConnection) -> None:
    assert count(con, "orders", "user_id not in (select user_id from links)") == 0


def test_order_shapes(con: duckdb.DuckDBPyConnection) -> None:
    counts = dict(con.execute("select status, count(*) from orders group by 1").fetchall())
    total = sum(counts.values())
    assert 0.85 < counts["completed"] / total < 0.95
    assert counts["cancelled"] > 0 and counts["refunded"] > 0
    assert 0.10 < count(con, "orders", "nullif(coupon_code, '') is not null") / total < 0.20
    buyers = scalar(con, "select count(distinct user_id) from orders")
    people = scalar(con, "select count(distinct user_id) from links where user_id not like '#{%'")
    assert buyers < people  # some people never ordered
    assert 7 < count(con, "order_items") / total < 12
    assert total / CUSTOMERS > 10


def test_catalogues(con: duckdb.DuckDBPyConnection) -> None:
    assert count(con, "products") == 50 + CUSTOMERS // 100
    assert count(con, "designs") == 100 + CUSTOMERS // 20
    groups = {g for (g,) in con.execute("select distinct canvas_group from products").fetchall()}
    assert groups <= {"apparel", "wall-art", "stationery", "home", "accessories"}
    assert count(con, "products", "(is_apparel = 'true') <> (canvas_group = 'apparel')") == 0
    assert scalar(con, "select count(distinct designer_id) < count(*) from designs")
    assert count(con, "designs", "theme is null or theme_genre is null") == 0


def test_summary_matches_files(csv_dir: Path, con: duckdb.DuckDBPyConnection) -> None:
    summary = json.loads((csv_dir / "_generator.json").read_text())
    assert summary["num_customers"] == CUSTOMERS and summary["seed"] == 42
    assert summary["file_format"] == "csv"
    for source in SOURCES:
        assert summary["rows"][source] == scalar(con, f"select count(*) from {source}")
    assert summary["total_rows"] == sum(summary["rows"].values())
    assert summary["total_rows"] < 200_000  # the default run stays small


def test_parquet_types(parquet_dir: Path, csv_dir: Path) -> None:
    summary = json.loads((parquet_dir / "_generator.json").read_text())
    for source, columns in contract().items():
        table = pq.read_table(parquet_dir / source / "part-00000.parquet")
        expected = [
            (c, PARQUET_TYPES[str(s.get("type", "string")).replace(" ", "")])
            for c, s in columns.items()
        ]
        assert [(f.name, f.type) for f in table.schema] == expected, source
        assert table.num_rows == summary["rows"][source]
    csv_summary = json.loads((csv_dir / "_generator.json").read_text())
    assert summary["rows"] == csv_summary["rows"]  # same content whatever the format


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_deterministic_for_a_seed(tmp_path: Path, file_format: str) -> None:
    first = generate(tmp_path / "a", num_customers=300, seed=7, file_format=file_format)
    second = generate(tmp_path / "b", num_customers=300, seed=7, file_format=file_format)
    assert first == second
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    generate(tmp_path / "c", num_customers=300, seed=8, file_format=file_format)
    other = _tree(tmp_path / "c")
    same = _tree(tmp_path / "a")
    assert other.keys() == same.keys()
    assert other != same
    assert other["orders/part-00000." + file_format] != same["orders/part-00000." + file_format]


def test_files_per_source_only_moves_file_boundaries(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", num_customers=2_500, seed=3, file_format="parquet")
    three = generate(
        tmp_path / "three", num_customers=2_500, seed=3, file_format="parquet", files_per_source=3
    )
    assert one["rows"] == three["rows"]
    for source in SOURCES:
        parts = sorted(p.name for p in (tmp_path / "three" / source).iterdir())
        assert parts == [f"part-0000{k}.parquet" for k in range(3)]
        assert three["files"][source] == [f"{source}/{name}" for name in parts]
        whole = pq.read_table(tmp_path / "one" / source)
        split = pa.concat_tables(
            pq.read_table(tmp_path / "three" / source / name) for name in parts
        )
        assert split.equals(whole), source


def test_rerun_replaces_stale_parts(tmp_path: Path) -> None:
    generate(tmp_path, num_customers=50, seed=1, files_per_source=4)
    summary = generate(tmp_path, num_customers=50, seed=1)
    for source in SOURCES:
        assert sorted(p.name for p in (tmp_path / source).iterdir()) == ["part-00000.csv"]
    assert json.loads((tmp_path / "_generator.json").read_text()) == summary


def test_single_customer(tmp_path: Path) -> None:
    summary = generate(tmp_path, num_customers=1, seed=0)
    assert summary["rows"]["identifies_js"] + summary["rows"]["identifies_ruby"] > 0


def test_progress_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(tmp_path, num_customers=100, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "100/100 customers" in captured.err


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    options = ["--customers", "120", "--seed", "5", "--format", "parquet", "--quiet"]
    code = generator.main(["--out", str(tmp_path), *options])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == ""
    summary = json.loads(captured.out)
    assert summary == json.loads((tmp_path / "_generator.json").read_text())
    assert summary["num_customers"] == 120 and summary["file_format"] == "parquet"
    assert (tmp_path / "orders" / "part-00000.parquet").is_file()


def test_cli_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        generator.main(["--out", str(tmp_path), "--customers", "0"])
    assert exc.value.code == 2
    assert "num_customers" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_customers": 0}, "num_customers"),
        ({"num_customers": 5_000_001}, "num_customers"),
        ({"num_customers": 10.5}, "num_customers"),
        ({"num_customers": "500"}, "num_customers"),
        ({"num_customers": True}, "num_customers"),
        ({"file_format": "json"}, "file_format"),
        ({"file_format": None}, "file_format"),
        ({"seed": -1}, "seed"),
        ({"files_per_source": 0}, "files_per_source"),
        ({"num_customers": 5, "files_per_source": 6}, "files_per_source"),
    ],
)
def test_bad_arguments_raise(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # nothing written before the arguments are checked
