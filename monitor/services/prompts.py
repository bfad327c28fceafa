"""Prompt sets: parse an uploaded JSONL or CSV file row by row, and store it as a new version.

Each row is a prompt: ``id`` (optional; defaults to ``row-N``), ``text``, ``kind`` (``open`` or
``probe``; defaults to ``probe`` when ``gold`` is given), ``gold`` (the accepted answers: a JSON
list, or in CSV one cell with aliases separated by ``|``) and ``popularity`` (a number ≥ 0 for how
well known the entity is). Every bad row is reported with its line number; nothing is stored
unless the whole file is valid.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max

from monitor.models import Prompt, PromptKind, PromptSet, PromptSetVersion

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PROMPTS = 20_000
MAX_PROMPT_CHARS = 20_000
CSV_ALIAS_SEPARATOR = "|"


@dataclass(frozen=True)
class PromptRow:
    key: str
    kind: str
    text: str
    gold: list[str] = field(default_factory=list)
    popularity: float | None = None


class PromptImportError(Exception):
    """The file was rejected; ``errors`` holds one message per bad row (with its line)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s): " + "; ".join(errors[:5]))
        self.errors = errors


def _check_storable(value: str, field_name: str) -> None:
    """Refuse what no database stores as text: a lone surrogate (JSON's ``"\\ud800"`` escape
    decodes to one) is not UTF-8, and PostgreSQL refuses NUL characters."""
    if "\x00" in value:
        raise ValueError(f"'{field_name}' holds a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"'{field_name}' holds a lone surrogate ({value[exc.start]!r}), which is not text"
        ) from None


def parse_row(raw: dict, line: int) -> PromptRow:
    """Validate one row's fields; raises ValueError with a message for the user."""
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' is missing or empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"'text' is longer than {MAX_PROMPT_CHARS} characters")
    _check_storable(text, "text")
    key = raw.get("id")
    key = f"row-{line}" if key is None or key == "" else str(key).strip()
    if len(key) > 200:
        raise ValueError("'id' is longer than 200 characters")
    _check_storable(key, "id")

    gold = raw.get("gold") or []
    if isinstance(gold, str):
        gold = [alias for alias in gold.split(CSV_ALIAS_SEPARATOR)]
    if not isinstance(gold, list) or not all(isinstance(alias, str) for alias in gold):
        raise ValueError("'gold' must be a list of strings")
    gold = [alias.strip() for alias in gold if alias.strip()]
    for alias in gold:
        _check_storable(alias, "gold")

    kind = raw.get("kind") or (PromptKind.PROBE if gold else PromptKind.OPEN)
    if kind not in PromptKind.values:
        raise ValueError(f"'kind' must be one of {', '.join(PromptKind.values)}, not {kind!r}")
    if kind == PromptKind.PROBE and not gold:
        raise ValueError("a probe needs at least one 'gold' answer")

    popularity = raw.get("popularity")
    if popularity in (None, ""):
        popularity = None
    else:
        try:
            popularity = float(popularity)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"'popularity' must be a number, not {popularity!r}") from None
        if not math.isfinite(popularity) or popularity < 0:
            raise ValueError("'popularity' must be a finite number ≥ 0")
    return PromptRow(key=key, kind=kind, text=text.strip(), gold=gold, popularity=popularity)


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict | str]]:
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        try:
            value = json.loads(content)
        except json.JSONDecodeError as exc:
            yield line, f"not valid JSON ({exc.msg})"
            continue
        except RecursionError:
            yield line, "not valid JSON (nested too deeply)"
            continue
        except ValueError:
            # Python refuses to read an integer of more than 4,300 digits.
            yield line, "not valid JSON (a number has too many digits)"
            continue
        yield line, value if isinstance(value, dict) else "not a JSON object"


class _CountedLines:
    """The lines of a text, counting those the csv reader has taken: its own count is not kept
    when a row fails to parse, and the line where a bad row starts is what the user needs."""

    def __init__(self, text: str) -> None:
        self._lines = io.StringIO(text)
        self.taken = 0

    def __iter__(self) -> _CountedLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken += 1
        return line


def _csv_problem(exc: csv.Error) -> str:
    reason = str(exc)
    if "end of data" in reason:
        return "a quote opened in this row is never closed (the lines after it would merge)"
    if "field limit" in reason:
        return f"a cell is longer than {csv.field_size_limit()} characters"
    return f"not valid CSV ({reason})"


def _csv_rows(text: str) -> Iterator[tuple[int, dict | str]]:
    # Strict: a stray quote is an error to report, not a row silently merged with the next.
    lines = _CountedLines(text)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        yield 1, _csv_problem(exc)
        return
    if not header or "text" not in header:
        yield 1, "the header row must name a 'text' column"
        return
    while True:
        first_line = lines.taken + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # Where the parser stands after the error is unknown: nothing after it is read.
            yield first_line, _csv_problem(exc) + "; the rest of the file was not read"
            return
        if not cells:
            continue
        if len(cells) > len(header):
            yield first_line, "more cells than header columns"
            continue
        yield first_line, dict(zip(header, cells, strict=False))


def parse_prompt_file(filename: str, data: bytes) -> list[PromptRow]:
    """Parse and validate a whole upload; raises PromptImportError listing every bad row."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PromptImportError([f"file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptImportError([f"file is not UTF-8 text (byte {exc.start})"]) from None
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        raw_rows = _jsonl_rows(text)
    elif lower.endswith(".csv"):
        raw_rows = _csv_rows(text)
    else:
        raise PromptImportError(["file name must end in .jsonl or .csv"])
    return validate_rows(raw_rows)


def validate_rows(raw_rows: Iterable[tuple[int, dict | str]]) -> list[PromptRow]:
    rows: list[PromptRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line, raw in raw_rows:
        if isinstance(raw, str):
            errors.append(f"line {line}: {raw}")
            continue
        try:
            row = parse_row(raw, line)
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        if row.key in seen:
            errors.append(f"line {line}: id {row.key!r} already used on line {seen[row.key]}")
            continue
        seen[row.key] = line
        rows.append(row)
    if not rows and not errors:
        errors.append("the file has no prompts")
    if len(rows) > MAX_PROMPTS:
        errors.append(f"the file has {len(rows)} prompts; at most {MAX_PROMPTS} are allowed")
    if errors:
        raise PromptImportError(errors)
    return rows


@transaction.atomic
def add_version(prompt_set: PromptSet, rows: list[PromptRow], source_name: str) -> PromptSetVersion:
    """Store ``rows`` as the set's next version; earlier versions stay as they were."""
    PromptSet.objects.select_for_update().filter(pk=prompt_set.pk).first()
    last = prompt_set.versions.aggregate(last=Max("number"))["last"] or 0
    version = PromptSetVersion.objects.create(
        prompt_set=prompt_set, number=last + 1, source_name=source_name[:255]
    )
    Prompt.objects.bulk_create(
        Prompt(
            version=version,
            key=row.key,
            position=position,
            kind=row.kind,
            text=row.text,
            gold=row.gold,
            popularity=row.popularity,
        )
        for position, row in enumerate(rows)
    )
    return version


def import_prompt_file(
    prompt_set_name: str, filename: str, data: bytes, description: str = ""
) -> PromptSetVersion:
    """Parse an upload and store it as the next version of the named set (created if new)."""
    rows = parse_prompt_file(filename, data)
    with transaction.atomic():
        prompt_set, _ = PromptSet.objects.get_or_create(
            name=prompt_set_name, defaults={"description": description}
        )
        return add_version(prompt_set, rows, filename)
