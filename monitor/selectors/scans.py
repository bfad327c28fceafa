"""Reads of the scan pages: the scans, the index of stored outputs, and a scan's report."""

from __future__ import annotations

from django.db.models import QuerySet

from monitor.models import OutputIndexStats, OutputSignature, Scan

LISTED_SCANS = 50


def recent_scans() -> QuerySet[Scan]:
    return Scan.objects.all()[:LISTED_SCANS]


def output_index_summary() -> dict:
    """How many outputs the index holds and how long building it has taken."""
    stats = OutputIndexStats.current()
    return {
        "outputs": OutputSignature.objects.count(),
        "build_seconds": stats.build_seconds,
        "updated_at": stats.updated_at,
    }


def scan_report(scan: Scan) -> dict:
    """The scan as plain data: its state, live counts and, once finished, its report."""
    return {
        "id": scan.pk,
        "corpus": scan.corpus_name,
        "reference": scan.reference_name or None,
        "threshold": scan.threshold,
        "status": scan.status,
        "progress": scan.progress,
        "counts": {
            "documents": scan.documents,
            "matched": scan.matched,
            "duplicates": scan.duplicates,
            "malformed": scan.malformed,
        },
        "created_at": scan.created_at.isoformat(),
        "finished_at": scan.finished_at.isoformat() if scan.finished_at else None,
        "error": scan.error or None,
        "report": scan.result,
    }
