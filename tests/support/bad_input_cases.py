"""The bad-input catalogue: every class of wrong landing data, what the pipeline does with it, and
the files that show it. tests/unit/loading/test_bad_input.py runs each case; the table in docs/operations.md is rendered
from CATALOGUE (`python -m tests.support.bad_input_cases`) and a test keeps the two identical."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ORDERS = "order_id,user_id,status,ordered_at,revenue_usd,subtotal_usd,refund_amount_usd,coupon_code"
ITEMS = "order_item_id,order_id,product_id,design_id,quantity,unit_price_usd"
IDENTIFIES = "id,anonymous_id,user_id,timestamp,received_at,context_traits_email,context_library_name"


@dataclass(frozen=True)
class Case:
    key: str
    source: str
    given: str  # the input, as docs/operations.md shows it
    behaviour: str  # what the loader or staging does, as docs/operations.md shows it
    files: dict[str, bytes]  # file name -> content, in <landing>/<source>/


def _csv(header: str, *rows: str, newline: str = "\n") -> bytes:
    return (newline.join([header, *rows]) + newline).encode()


GOOD_ORDER = "o-good,u1,completed,2026-01-01T00:00:00Z,10.00,9.00,,"

CATALOGUE: tuple[Case, ...] = (
    Case("wrong_column_count", "orders", "a row with too few or too many fields",
         "row quarantined with the parser's error (`MISSING COLUMNS` / `TOO MANY COLUMNS`)",
         {"a.csv": _csv(ORDERS, GOOD_ORDER, "o2,u2,completed", "o3,u3,completed,2026-01-01,1,1,,,extra")}),
    Case("missing_required_column", "orders", "a file without a required column",
         "load task fails naming source, file and column; nothing of the source is written",
         {"a.csv": _csv("order_id,status", "o1,completed")}),
    Case("extra_columns", "orders", "columns the contract does not name",
         "kept as text columns of `raw.<source>`",
         {"a.csv": _csv(ORDERS + ",channel", GOOD_ORDER + ",web")}),
    Case("header_only", "orders", "a file with a header and no rows",
         "batch recorded with 0 rows read, loaded and rejected",
         {"a.csv": _csv(ORDERS)}),
    Case("empty_file", "orders", "a zero-byte file",
         "batch recorded with 0 rows read, loaded and rejected",
         {"a.csv": b""}),
    Case("non_utf8", "orders", "bytes that are not UTF-8",
         "row quarantined (`INVALID ENCODING`); the other rows load",
         {"a.csv": _csv(ORDERS, GOOD_ORDER) + b"o\xff\xfe2,u2,completed,2026-01-01,1,1,,\n"}),
    Case("bom", "orders", "a UTF-8 byte-order mark before the header",
         "ignored; the header and rows load",
         {"a.csv": b"\xef\xbb\xbf" + _csv(ORDERS, GOOD_ORDER)}),
    Case("crlf", "orders", "CRLF line ends",
         "read as line ends; rows load",
         {"a.csv": _csv(ORDERS, GOOD_ORDER, "o2,u2,completed,2026-01-01,1,1,,", newline="\r\n")}),
    Case("quoted_separators", "orders", "quoted fields holding commas, quotes and newlines",
         "loaded verbatim (RFC 4180)",
         {"a.csv": _csv(ORDERS, 'o1,u1,completed,2026-01-01,1,1,,"SAVE,10 ""vip""\nline2"')}),
    Case("unparsable_timestamp", "orders", "a timestamp that does not parse",
         "row quarantined: `unparsable timestamp in <column>: <value>`",
         {"a.csv": _csv(ORDERS, GOOD_ORDER, "o2,u2,completed,yesterday,1,1,,")}),
    Case("timestamp_offsets", "orders", "timestamps with and without a UTC offset",
         "converted to UTC; a value without an offset is UTC",
         {"a.csv": _csv(ORDERS, "o1,u1,completed,2026-01-01T12:00:00+02:00,1,1,,",
                        "o2,u2,completed,2026-01-01 12:00:00,1,1,,")}),
    Case("extreme_timestamps", "orders", "1970-01-01 and far-future timestamps",
         "loaded verbatim (they are valid instants); the gate's freshness check reads the newest",
         {"a.csv": _csv(ORDERS, "o1,u1,completed,1970-01-01T00:00:00Z,1,1,,",
                        "o2,u2,completed,9999-12-31T23:59:59Z,1,1,,")}),
    Case("negative_quantity", "order_items", "a quantity below 1",
         "row quarantined: `quantity below minimum 1`",
         {"a.csv": _csv(ITEMS, "i1,o1,p1,d1,1,9.99", "i2,o1,p2,,-2,9.99")}),
    Case("non_numeric_price", "order_items", "a price that is not a number",
         "row quarantined: `unparsable decimal(18,2) in unit_price_usd`",
         {"a.csv": _csv(ITEMS, "i1,o1,p1,d1,1,9.99", "i2,o1,p2,,1,cheap")}),
    Case("missing_primary_key", "orders", "a null, empty or whitespace-only primary key",
         "row quarantined: `missing required value in order_id`",
         {"a.csv": _csv(ORDERS, GOOD_ORDER, ",u2,completed,2026-01-01,1,1,,", '"  ",u3,completed,2026-01-01,1,1,,')}),
    Case("conflicting_duplicate_key", "orders", "one primary key with different values in two files",
         "last file (by name), last row wins; the other quarantined naming the winner",
         {"a.csv": _csv(ORDERS, "o1,u1,completed,2026-01-01,1,1,,"),
          "b.csv": _csv(ORDERS, "o1,u1,refunded,2026-01-01,1,1,1,")}),
    Case("exact_duplicate_event", "identifies_js", "the same event delivered twice",
         "both kept in raw; staging keeps one",
         {"a.csv": _csv(IDENTIFIES, "dup1,a1,u1,2026-01-01,2026-01-01,,", "dup1,a1,u1,2026-01-01,2026-01-01,,")}),
    Case("unknown_references", "order_items", "an item of an unknown order or product",
         "kept; a warn-severity relationships test flags it and the gate counts it",
         {"a.csv": _csv(ITEMS, "i1,o-missing,p-missing,,1,1.00")}),
    Case("whitespace_ids", "identifies_js", "ids that are empty or only whitespace (tabs, no-break spaces)",
         "loaded; staging turns them into null, so they never enter the identity graph",
         {"a.csv": _csv(IDENTIFIES, 'ws1,"\t ",u1,2026-01-01,2026-01-01,,', "ws2,a2,\xa0,2026-01-01,2026-01-01,,")}),
    Case("special_character_ids", "identifies_js", "ids with quotes, semicolons, `%`, `_`, backslashes, emoji",
         "stored and stitched verbatim; values are bound, never spliced into SQL",
         {"a.csv": _csv(IDENTIFIES, "sp1,\"a'1; drop table x;--\",u%_\\1,2026-01-01,2026-01-01,,",
                        "sp2,\"a'1; drop table x;--\",u\U0001f600,2026-01-01,2026-01-01,,")}),
    Case("huge_field", "orders", "a single 10 MB field",
         "loaded (records up to 64 MB are read)",
         {"a.csv": _csv(ORDERS, "o1,u1,completed,2026-01-01,1,1,," + "c" * 10_000_000)}),
    Case("parquet_wrong_type", "order_items", "a Parquet column of the wrong type",
         "each value is cast; a value that does not cast is quarantined",
         {}),  # written by the test with pyarrow
    Case("not_a_data_file", "orders", "a file that is not CSV or Parquet (e.g. .json)",
         "quarantined whole as one rejected record (row 0) with its first bytes",
         {"a.json": b'{"order_id": "o1"}', "b.csv": _csv(ORDERS, GOOD_ORDER)}),
    Case("corrupt_parquet", "orders", "a .parquet file that is not Parquet",
         "quarantined whole as one rejected record (row 0) with the reader's error",
         {"a.parquet": b"PK\x03\x04 this is a zip", "b.csv": _csv(ORDERS, GOOD_ORDER)}),
    Case("status_variants", "orders", "accepted values in another case or padded (`' Completed '`)",
         "normalised to the contract's value; anything else quarantined",
         {"a.csv": _csv(ORDERS, "o1,u1, Completed ,2026-01-01,1,1,,", "o2,u2,shipped,2026-01-01,1,1,,")}),
)


def write_case(case: Case, landing: Path) -> Path:
    folder = landing / case.source
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        (folder / name).write_bytes(content)
    return folder


def readme_table() -> str:
    rows = ["| input | behaviour |", "| --- | --- |"]
    rows += [f"| {case.given} | {case.behaviour} |" for case in CATALOGUE]
    return "\n".join(rows)


if __name__ == "__main__":
    print(readme_table())
