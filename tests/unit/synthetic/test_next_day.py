"""The next day of synthetic landing data (include/synthetic/days.py): new part files only, ids that
continue the earlier ones, rows the incremental loader takes whole, and the identity shapes a day
must bring (merges, a super-connector, a shared account), all counted in the written rows."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import include.synthetic as generator
from include.loading.duckdb_loader import load_all
from include.synthetic import generate, next_day
from include.synthetic.schemas import PER_CUSTOMER_SOURCES

CUSTOMERS = 500
# The stitching limits the day pushes ids over (dbt_project.yml vars stitch_max_*, defaults).
MAX_USER_IDS_PER_ANONYMOUS_ID = 5
MAX_ANONYMOUS_IDS_PER_USER_ID = 100
KEYS = {"identifies_js": "id", "identifies_ruby": "id", "orders": "order_id", "order_items": "order_item_id"}


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A base landing directory, the hashes of its files, and two next days added to it."""
    out = tmp_path_factory.mktemp("landing_days")
    generate(out, num_customers=CUSTOMERS, seed=42)
    before = _hashes(out)
    days = [next_day(out), next_day(out)]
    return {"out": out, "before": before, "days": days}


def _scan(paths: Iterable[Path]) -> str:
    files = ", ".join(f"'{p}'" for p in paths)
    return (f"read_csv([{files}], all_varchar = true, header = true, delim = ',', quote = '\"', "
            "escape = '\"', union_by_name = true)")


def _con(out: Path, days: list[str]) -> duckdb.DuckDBPyConnection:
    """Views over the landing rows: `<source>` of the base and the given days, `day_<source>` of the
    last of those days, `earlier_<source>` of everything before it; `links` and friends likewise
    over both identify sources (the edges of the identity graph)."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    stamps = [d.replace("-", "") for d in days]
    for source in PER_CUSTOMER_SOURCES:
        base = [out / source / "part-00000.csv"]
        dated = [out / source / f"part-{s}-00000.csv" for s in stamps]
        con.execute(f"create view {source} as select * from {_scan(base + dated)}")
        con.execute(f"create view day_{source} as select * from {_scan(dated[-1:])}")
        con.execute(f"create view earlier_{source} as select * from {_scan(base + dated[:-1])}")
    for prefix in ("", "day_", "earlier_"):
        con.execute(f"create view {prefix}events as select * from {prefix}identifies_js "
                    f"union all select * from {prefix}identifies_ruby")
        con.execute(f"create view {prefix}links as select distinct anonymous_id, user_id from {prefix}events "
                    "where nullif(user_id, '') is not null and nullif(anonymous_id, '') is not null "
                    "and anonymous_id not like '#{%' and user_id not like '#{%'")
    return con


@pytest.fixture(scope="module")
def con(landing: dict) -> duckdb.DuckDBPyConnection:
    """Every row of the base and the first day; day_* is the first day."""
    return _con(landing["out"], [landing["days"][0]["day"]])


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def test_existing_files_are_unchanged(landing: dict) -> None:
    out, before = landing["out"], landing["before"]
    after = _hashes(out)
    assert {name: after.get(name) for name in before} == before
    added = sorted(set(after) - set(before))
    expected = sorted([f"_day-{stamp}.json" for stamp in ("20261101", "20261102")]
                      + [f"{s}/part-{stamp}-00000.csv" for s in PER_CUSTOMER_SOURCES
                         for stamp in ("20261101", "20261102")])
    assert added == expected


def test_days_follow_each_other(landing: dict) -> None:
    first, second = landing["days"]
    assert (first["day"], second["day"]) == ("2026-11-01", "2026-11-02")
    assert (first["day_number"], second["day_number"]) == (0, 1)
    assert first["reference_date"] == "2026-11-02T00:00:00Z"
    # New people are numbered after everyone so far.
    assert first["customers"] == [CUSTOMERS, CUSTOMERS + first["new_customers"]]
    assert second["customers"][0] == first["customers"][1]
    base = json.loads((landing["out"] / "_generator.json").read_text())
    for source in PER_CUSTOMER_SOURCES:
        assert first["first_row_numbers"][source] == base["rows"][source]
        assert second["first_row_numbers"][source] == base["rows"][source] + first["rows"][source]
        assert first["rows"][source] > 0, source
    assert json.loads((landing["out"] / "_day-20261101.json").read_text()) == first


def test_ids_do_not_repeat(landing: dict) -> None:
    con = _con(landing["out"], [d["day"] for d in landing["days"]])
    for source, key in KEYS.items():
        assert scalar(con, f"select count(*) - count(distinct {key}) from {source}") == 0, source
    # An event id's last 16 hex digits are its counter, mixed: unique only if the day's counters
    # continue the earlier ones (the leading digits are random and would hide a reused counter).
    for source in ("identifies_js", "identifies_ruby"):
        assert scalar(con, f"select count(*) - count(distinct substr(id, 20)) from {source}") == 0, source
    assert scalar(con, "select count(*) from day_order_items where order_id not in (select order_id from "
                       "day_orders)") == 0
    assert scalar(con, "select count(*) from day_orders where order_id not in (select order_id from "
                       "day_order_items)") == 0


def test_timestamps_are_on_the_new_day(con: duckdb.DuckDBPyConnection) -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    for source, column in (("day_events", "timestamp"), ("day_orders", "ordered_at")):
        low, high = con.execute(
            f"select min({column}::timestamptz), max({column}::timestamptz) from {source}").fetchone()
        assert start <= low and high < end, source
    assert scalar(con, "select count(*) from day_events where received_at::timestamptz < "
                       "timestamp::timestamptz") == 0


def test_existing_and_new_people(con: duckdb.DuckDBPyConnection, landing: dict) -> None:
    day = landing["days"][0]
    known_users = "(select user_id from earlier_links)"
    # Existing people come back with the very user_ids they had: replayed, not invented.
    returning = scalar(con, f"select count(distinct user_id) from day_events where user_id in {known_users}")
    assert returning >= day["active_customers"]
    new_users = scalar(con, f"select count(distinct user_id) from day_links where user_id not in {known_users}")
    assert day["new_customers"] <= new_users <= 2 * day["new_customers"]  # some have a second user_id
    assert scalar(con, f"select count(*) from day_orders where user_id in {known_users}") > 0
    assert scalar(con, f"select count(*) from day_orders where user_id not in {known_users}") > 0
    # Every order's user is identified, as in the base.
    assert scalar(con, "select count(*) from day_orders where user_id not in (select user_id from links)") == 0
    # Products come from the existing catalogue (the day writes no catalogue file).
    products = landing["out"] / "products" / "part-00000.csv"
    assert scalar(con, f"select count(*) from day_order_items where product_id not in "
                       f"(select product_id from read_csv('{products}', all_varchar = true))") == 0


def _components(links: list[tuple[str, str]]) -> dict[str, str]:
    """Union-find over (anonymous_id, user_id) edges: each id's component root."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for anon, user in links:
        parent[root("a:" + anon)] = root("u:" + user)
    return {x: root(x) for x in parent}


def _graph_edges(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple[str, str]]:
    """The links stitching keeps: ids within the limits (templates are out of the views already)."""
    return con.execute(f"""
        select anonymous_id, user_id from {view}
        where anonymous_id not in (select anonymous_id from {view} group by 1
                                   having count(distinct user_id) > {MAX_USER_IDS_PER_ANONYMOUS_ID})
          and user_id not in (select user_id from {view} group by 1
                              having count(distinct anonymous_id) > {MAX_ANONYMOUS_IDS_PER_USER_ID})
    """).fetchall()


def test_merges_existing_profiles(con: duckdb.DuckDBPyConnection) -> None:
    component = _components(_graph_edges(con, "earlier_links"))
    # New anonymous_ids seen with two or more existing user_ids (and within the limit).
    rows = con.execute(f"""
        select anonymous_id, list(distinct user_id) from day_links
        where anonymous_id not in (select anonymous_id from earlier_events where anonymous_id is not null)
          and user_id in (select user_id from earlier_links)
        group by 1 having count(distinct user_id) between 2 and {MAX_USER_IDS_PER_ANONYMOUS_ID}
    """).fetchall()
    merging = [anon for anon, users in rows if len({component.get("u:" + u, u) for u in users}) > 1]
    assert len(merging) >= 2


def test_pushes_ids_over_the_stitching_limits(con: duckdb.DuckDBPyConnection) -> None:
    def over(view: str, key: str, other: str, limit: int) -> set[str]:
        return {row[0] for row in con.execute(
            f"select {key} from {view} group by 1 having count(distinct {other}) > {limit}").fetchall()}

    # A super-connector: an existing anonymous_id that crosses the limit with the day's links.
    before = over("earlier_links", "anonymous_id", "user_id", MAX_USER_IDS_PER_ANONYMOUS_ID)
    after = over("links", "anonymous_id", "user_id", MAX_USER_IDS_PER_ANONYMOUS_ID)
    existing = {row[0] for row in con.execute("select distinct anonymous_id from earlier_links").fetchall()}
    assert len((after - before) & existing) >= 1
    # A shared account: an existing user_id that crosses the limit with the day's links.
    before = over("earlier_links", "user_id", "anonymous_id", MAX_ANONYMOUS_IDS_PER_USER_ID)
    after = over("links", "user_id", "anonymous_id", MAX_ANONYMOUS_IDS_PER_USER_ID)
    existing = {row[0] for row in con.execute("select distinct user_id from earlier_links").fetchall()}
    assert len((after - before) & existing) >= 1


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_the_incremental_load_reads_only_the_day_and_rejects_nothing(tmp_path: Path, file_format: str) -> None:
    out = tmp_path / "landing"
    generate(out, num_customers=300, seed=5, file_format=file_format)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        first = load_all(con, out, run_id="day0")
        day = next_day(out)
        second = load_all(con, out, run_id="day1")
        rejected = con.execute("select count(*) from audit.rejected_rows").fetchone()[0]
        raw = {s: con.execute(f"select count(*), count(distinct {k}) from raw.{s}").fetchone() for s, k in KEYS.items()}
    assert all(r.rows_rejected == 0 for r in first)
    # Only the day's files are read, appended whole.
    assert sorted((r.source, r.file_name) for r in second) == sorted(
        (s, f"part-20261101-00000.{file_format}") for s in PER_CUSTOMER_SOURCES)
    for r in second:
        assert (r.load_action, r.rows_rejected) == ("loaded", 0), r
        assert r.rows_read == r.rows_loaded == day["rows"][r.source], r
    assert rejected == 0
    for source, (rows, keys) in raw.items():
        assert rows == keys, source
        assert rows == sum(r.rows_loaded for r in first + second if r.source == source), source


def test_replays_every_existing_person(tmp_path: Path) -> None:
    """With everyone active and nobody new, a day brings no user_id that was not there before: day 1's
    new people come back on day 2 with their ids, and only the day's own devices are new."""
    generate(tmp_path, num_customers=40, seed=11)
    first = next_day(tmp_path, new_customers=5)
    everyone = first["customers"][1]
    second = next_day(tmp_path, new_customers=0, active_customers=everyone)
    con = _con(tmp_path, [first["day"], second["day"]])
    assert scalar(con, "select count(distinct user_id) from day_events where nullif(user_id, '') is not null "
                       "and user_id not in (select user_id from earlier_events where user_id is not null)") == 0
    links = second["links"]
    new_devices = links["merging_anonymous_ids"] + links["shared_account_new_devices"]
    assert scalar(con, "select count(distinct anonymous_id) from day_events where nullif(anonymous_id, '') is not "
                       "null and anonymous_id not in (select anonymous_id from earlier_events "
                       "where anonymous_id is not null)") == new_devices
    # Day 1's new people (user_ids first seen on day 1) come back on day 2.
    day1 = _con(tmp_path, [first["day"]])
    newcomers = {row[0] for row in day1.execute(
        "select user_id from day_links where user_id not in (select user_id from earlier_links)").fetchall()}
    seen = {row[0] for row in con.execute("select user_id from day_links").fetchall()}
    assert len(newcomers) >= first["new_customers"]
    assert len(newcomers & seen) >= first["new_customers"]


def _day_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ("-2026" in p.name or p.name.startswith("_day-"))}


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_deterministic_for_a_seed(tmp_path: Path, file_format: str) -> None:
    generate(tmp_path / "a", num_customers=200, seed=3, file_format=file_format)
    for name in ("b", "c"):
        shutil.copytree(tmp_path / "a", tmp_path / name)
    assert next_day(tmp_path / "a") == next_day(tmp_path / "b")
    same = _day_files(tmp_path / "a")
    assert same and same == _day_files(tmp_path / "b")
    assert next_day(tmp_path / "c", seed=4)["seed"] == 4
    other = _day_files(tmp_path / "c")
    assert other.keys() == same.keys()
    orders = f"orders/part-20261101-00000.{file_format}"
    assert other[orders] != same[orders]


def test_refuses_a_directory_without_data_or_with_an_unfinished_day(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"_generator\.json"):
        next_day(tmp_path)
    generate(tmp_path, num_customers=50, seed=1)
    stray = tmp_path / "orders" / "part-20261101-00000.csv"
    stray.write_text("order_id\n")
    before = _hashes(tmp_path)
    with pytest.raises(ValueError, match="interrupted"):
        next_day(tmp_path)
    assert _hashes(tmp_path) == before  # nothing written


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seed": -1}, "seed"),
    ({"new_customers": -1}, "new_customers"),
    ({"active_customers": 51}, "active_customers"),
    ({"active_customers": True}, "active_customers"),
])
def test_bad_arguments_raise(tmp_path: Path, kwargs: dict, message: str) -> None:
    generate(tmp_path, num_customers=50, seed=1)
    before = _hashes(tmp_path)
    with pytest.raises(ValueError, match=message):
        next_day(tmp_path, **kwargs)
    assert _hashes(tmp_path) == before


def test_regenerating_drops_the_days(tmp_path: Path) -> None:
    generate(tmp_path, num_customers=50, seed=1)
    next_day(tmp_path)
    generate(tmp_path, num_customers=50, seed=1)
    assert not list(tmp_path.glob("_day-*.json"))
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == ["part-00000.csv"]
    assert next_day(tmp_path)["day"] == "2026-11-01"


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generator.main(["--out", str(tmp_path), "--customers", "60", "--format", "parquet", "--quiet"]) == 0
    capsys.readouterr()
    code = generator.main(["--out", str(tmp_path), "--next-day", "--seed", "9", "--new-customers", "3"])
    captured = capsys.readouterr()
    assert code == 0 and "next day 2026-11-01" in captured.err
    summary = json.loads(captured.out)
    assert summary == json.loads((tmp_path / "_day-20261101.json").read_text())
    assert (summary["seed"], summary["new_customers"]) == (9, 3)
    assert (tmp_path / "orders" / "part-20261101-00000.parquet").is_file()


@pytest.mark.parametrize("argv", [["--next-day", "--customers", "10"], ["--next-day", "--format", "csv"],
                                  ["--new-customers", "3"]])
def test_cli_rejects_options_of_the_other_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        generator.main(["--out", str(tmp_path), *argv])
    assert exc.value.code == 2
    assert "--next-day" in capsys.readouterr().err
    assert not tmp_path.joinpath("_generator.json").exists()
