"""Parquet input and output: the texts come from named string columns, every other column
is carried through with its own type.

The runner streams lines, records progress by bytes and resumes after a kill; Parquet is
columnar, so between reading and the finished file an example is one line of JSON,
``[row, text, ...]``, both as input to the runner and in the ``.partial`` file. Only
when a job is done does :meth:`ParquetFormat.finished` build the table: each output row
is its input row (taken by index, so labels, ids and any other type stay as they were)
with its texts replaced. Rows are numbered as the lines of the same table written as TSV
or CSV with a header (row 1 is line 2), because every random draw is seeded by the line
number: a table augments to the same texts in all three formats.

pyarrow is imported inside the functions, so that ``--help`` and flag errors stay quick.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from augment.formats import BadInput, Format, Record

if TYPE_CHECKING:
    import pyarrow as pa

ROWS_PER_GROUP = 65_536
"""Rows per Parquet row group (and per batch read): fixed, so that the same rows make the
same file whether they come from one run or from merged shards."""


class ParquetFormat(Format):
    """A Parquet table whose ``columns`` (names) hold the texts."""

    def error(self, line_number: int, problem: str) -> BadInput:
        return BadInput(f"{self.path}: row {line_number - 1}: {problem}")

    def lines(self) -> Iterator[tuple[int, str]]:
        import pyarrow.parquet as pq

        read_text_schema(self.path, [str(column) for column in self.columns])
        names = [str(column) for column in self.columns]
        number = 1
        with pq.ParquetFile(self.path) as table:
            for batch in table.iter_batches(batch_size=ROWS_PER_GROUP, columns=names):
                columns = [batch.column(name).to_pylist() for name in names]
                for texts in zip(*columns, strict=True):
                    number += 1
                    yield number, json.dumps([number - 2, *texts], ensure_ascii=False)

    def parse(self, line_number: int, line: str) -> Record:
        row, *texts = json.loads(line)
        for column, text in zip(self.columns, texts, strict=True):
            if text is None:
                raise self.error(line_number, f"text column {column!r} is null")
        return Record(line_number, line, [row], self._require_text(line_number, texts))

    def write(self, record: Record, texts: list[str]) -> str:
        return json.dumps([record.fields[0], *texts], ensure_ascii=False)

    def finished(self, partial: Path) -> Path:
        """Build the table from the ``.partial`` lines; return the file (beside ``partial``)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(self.path, memory_map=True)
        positions = [table.schema.get_field_index(str(column)) for column in self.columns]
        target = partial.with_name(partial.name + ".parquet")

        def pieces() -> Iterator[pa.Table]:
            with open(partial, encoding="utf-8", newline="\n") as lines:
                while batch := [json.loads(line) for line in islice(lines, ROWS_PER_GROUP)]:
                    piece = table.take([row for row, *_ in batch])
                    for offset, position in enumerate(positions, start=1):
                        field = table.schema.field(position)
                        texts = pa.array([row[offset] for row in batch], type=field.type)
                        piece = piece.set_column(position, field, texts)
                    yield piece

        write_row_groups(target, table.schema, pieces())
        return target


def read_text_schema(path: Path, text_columns: Iterable[str]) -> pa.Schema:
    """The schema of the Parquet file at ``path``, checked to hold ``text_columns`` as
    strings (also used by ``distill.task_data``, which reads task data from Parquet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        raise BadInput(f"{path}: not a Parquet file ({error})") from error
    for name in text_columns:
        if name not in schema.names:
            names = ", ".join(schema.names)
            raise BadInput(f"{path}: no column named {name!r} (columns: {names})")
        kind = schema.field(name).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise BadInput(f"{path}: text column {name!r} holds {kind}, not strings")
    return schema


def write_row_groups(target: Path, schema: pa.Schema, pieces: Iterable[pa.Table]) -> None:
    """Write ``pieces`` as one table in row groups of exactly :data:`ROWS_PER_GROUP` rows,
    however the rows were split into pieces."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pending = schema.empty_table()
    with pq.ParquetWriter(target, schema) as writer:
        for piece in pieces:
            pending = pa.concat_tables([pending, piece])
            while pending.num_rows >= ROWS_PER_GROUP:
                writer.write_table(pending.slice(0, ROWS_PER_GROUP).combine_chunks())
                pending = pending.slice(ROWS_PER_GROUP)
        if pending.num_rows:
            writer.write_table(pending.combine_chunks())


def concatenate(shards: list[Path], target: Path) -> None:
    """Write the rows of the Parquet ``shards``, in order, as one table at ``target``."""
    import pyarrow.parquet as pq

    def pieces() -> Iterator[pa.Table]:
        for shard in shards:
            with pq.ParquetFile(shard) as file:
                for group in range(file.num_row_groups):
                    yield file.read_row_group(group)

    write_row_groups(target, pq.read_schema(shards[0]), pieces())
