"""``manage.py lab run``: a table of the warning signs per generation."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitor.management.commands import lab as lab_command


def test_lab_run_prints_a_row_per_generation(small_lab, monkeypatch):
    monkeypatch.setattr(lab_command, "served_lab", lambda: small_lab)
    out = StringIO()
    call_command("lab", "run", "--generations", "2", "--arm", "pure", stdout=out)
    lines = out.getvalue().splitlines()
    assert "pure arm, seed 0:" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("| gen "))
    assert "tail types" in lines[header] and "accuracy tail" in lines[header]
    rows = [line for line in lines[header + 2 :] if line.startswith("|")]
    assert [row.split("|")[1].strip() for row in rows] == ["0", "1", "2"]


def test_lab_run_refuses_generations_it_does_not_serve():
    with pytest.raises(CommandError, match="between 0 and 20"):
        call_command("lab", "run", "--generations", "21")
