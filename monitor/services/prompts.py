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


def parse_row(raw: dict, line: int) -> PromptRow:
    """Validate one row's fields; raises ValueError with a message for the user."""
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' is missing or empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"'text' is longer than {MAX_PROMPT_CHARS} characters")
    key = raw.get("id")
    key = f"row-{line}" if key is None or key == "" else str(key).strip()
    if len(key) > 200:
        raise ValueError("'id' is longer than 200 characters")

    gold = raw.get("gold") or []
    if isinstance(gold, str):
        gold = [alias for alias in gold.split(CSV_ALIAS_SEPARATOR)]
    if not isinstance(gold, list) or not all(isinstance(alias, str) for alias in gold):
        raise ValueError("'gold' must be a list of strings")
    gold = [alias.strip() for alias in gold if alias.strip()]

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
        except (TypeError, ValueError):
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
        yield line, value if isinstance(value, dict) else "not a JSON object"


def _csv_rows(text: str) -> Iterator[tuple[int, dict | str]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "text" not in reader.fieldnames:
        yield 1, "the header row must name a 'text' column"
        return
    for row in reader:
        if None in row:
            yield reader.line_num, "more cells than header columns"
            continue
        yield reader.line_num, row


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
