"""Writing: the out directory, one streaming part-file writer per source, and the chunked stream
that routes each customer range to its file slice."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from include.synthetic.schemas import PER_CUSTOMER_SOURCES, SOURCES, UNIQUE_COLUMNS
from include.synthetic.values import in_block, iso_strings

# Blocks are batched into chunks of about this many customers per write (bounds memory).
CHUNK_CUSTOMERS = 16_000
# A big source rolls over to a new part file at a chunk boundary past this many rows, so the
# loader reads files of bounded size.
ROWS_PER_FILE = 5_000_000


def _for_csv(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 text; decimals, booleans and nulls are already written as wanted."""
    for i, fld in enumerate(table.schema):
        if pa.types.is_timestamp(fld.type):
            column = table.column(i)
            text = pa.chunked_array([iso_strings(c) for c in column.chunks], pa.string())
            table = table.set_column(i, pa.field(fld.name, pa.string()), text)
    return table


class SourceWriter:
    """Streams one source into part files, finishing each under a hidden name then renaming it."""

    def __init__(self, folder: Path, schema: pa.Schema, file_format: str, stem: str = "part-") -> None:
        # stem: a next day writes part-<yyyymmdd>-NNNNN beside the base's part-NNNNN files.
        self.folder, self.schema, self.file_format, self.stem = folder, schema, file_format, stem
        self.part, self.rows_in_part, self.rows = 0, 0, 0
        self.files: list[str] = []
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def _name(self) -> str:
        return f"{self.stem}{self.part:05d}.{self.file_format}"

    def _open(self) -> None:
        tmp = self.folder / f".{self._name()}.tmp"
        if self.file_format == "parquet":
            dictionary = [f.name for f in self.schema if f.name not in UNIQUE_COLUMNS]
            self._writer = pq.ParquetWriter(tmp, self.schema, use_dictionary=dictionary)
        else:
            self._writer = pacsv.CSVWriter(tmp, _for_csv(self.schema.empty_table()).schema)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.rows_in_part >= ROWS_PER_FILE:
            self.next_part()
        if self._writer is None:
            self._open()
        self._writer.write_table(_for_csv(table) if self.file_format == "csv" else table)
        self.rows_in_part += table.num_rows
        self.rows += table.num_rows

    def next_part(self) -> None:
        """Finish the current part (empty if nothing was written) and start numbering the next."""
        if self._writer is None:
            self._open()
        self._writer.close()
        self._writer = None
        name = self._name()
        os.replace(self.folder / f".{name}.tmp", self.folder / name)
        self.files.append(name)
        self.part += 1
        self.rows_in_part = 0


def prepare_out_dir(out: Path) -> None:
    """Create the folders and drop what an earlier run left (a stale part would double rows; a
    stale next-day summary would number the next day after days whose files are gone)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "_generator.json").unlink(missing_ok=True)
    for summary in out.glob("_day-*.json"):
        summary.unlink()
    for source in SOURCES:
        folder = out / source
        folder.mkdir(exist_ok=True)
        for path in folder.iterdir():
            name = path.name.removeprefix(".")
            if path.is_file() and name.startswith("part-") and (
                name.endswith((".csv", ".parquet", ".tmp"))
            ):
                path.unlink()


def slice_bounds(num_customers: int, files_per_source: int) -> list[int]:
    return [num_customers * k // files_per_source for k in range(files_per_source + 1)]


def write_catalogue(writer: SourceWriter, table: pa.Table, files_per_source: int) -> None:
    for part in np.array_split(np.arange(table.num_rows), files_per_source):
        writer.write(table.slice(int(part[0]), part.size) if part.size else table.slice(0, 0))
        writer.next_part()


class Stream:
    """Buffers block tables into chunks and routes each customer range to its file slice."""

    def __init__(self, writers: dict[str, SourceWriter], bounds: list[int], progress: bool,
                 num_customers: int) -> None:
        self.writers, self.bounds, self.progress = writers, bounds, progress
        self.num_customers = num_customers
        self.buffer: dict[str, list[pa.Table]] = {s: [] for s in PER_CUSTOMER_SOURCES}
        self.buffered = 0
        self.done = 0
        self.slice = 0
        self.started = time.monotonic()

    def add(self, tables: dict[str, tuple[pa.Table, np.ndarray]], start: int, stop: int) -> None:
        cuts = [b for b in self.bounds[1:-1] if start < b < stop]
        for lo, hi in zip([start, *cuts], [*cuts, stop], strict=True):
            target = int(np.searchsorted(self.bounds, lo, side="right")) - 1
            while self.slice < target:  # a new file slice starts here
                self.flush()
                for source in PER_CUSTOMER_SOURCES:
                    self.writers[source].next_part()
                self.slice += 1
            for source, (table, customer) in tables.items():
                rows = in_block(customer, lo, hi)
                self.buffer[source].append(table.slice(rows.start, rows.stop - rows.start))
            self.buffered += hi - lo
        if self.buffered >= CHUNK_CUSTOMERS:
            self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        for source, parts in self.buffer.items():
            self.writers[source].write(pa.concat_tables(parts))
            parts.clear()
        self.done += self.buffered
        self.buffered = 0
        if self.progress:
            rows = sum(w.rows for w in self.writers.values())
            print(
                f"generator: {self.done:,}/{self.num_customers:,} customers, "
                f"{rows:,} rows written, {time.monotonic() - self.started:.1f}s",
                file=sys.stderr,
                flush=True,
            )
