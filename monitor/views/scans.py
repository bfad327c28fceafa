"""Provenance scans: the scan page with its upload form, a scan's report and live progress,
and the downloads of its filtered corpus and manifest."""

from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from monitor.forms import ScanForm
from monitor.models import ACTIVE_JOB_STATUSES, JobStatus, Scan
from monitor.selectors.scans import output_index_summary, recent_scans, scan_report
from monitor.services import scans
from monitor.views.access import requires

DOWNLOADS = {"filtered": "filtered_path", "manifest": "manifest_path"}


@requires("monitor.view_scan", to_post=("monitor.add_scan",))
def scan_list(request: HttpRequest) -> HttpResponse:
    form = ScanForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        scan = scans.start_scan(
            form.cleaned_data["corpus"],
            form.cleaned_data["reference"],
            form.cleaned_data["threshold"],
        )
        return redirect(scan)
    context = {"form": form, "scans": recent_scans(), "index": output_index_summary()}
    return render(request, "monitor/scan_list.html", context)


@requires("monitor.view_scan")
def scan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scan = get_object_or_404(Scan, pk=pk)
    context = {"scan": scan, "report": scan.result, "index": output_index_summary()}
    return render(request, "monitor/scan_detail.html", context)


@requires("monitor.view_scan")
def scan_progress(request: HttpRequest, pk: int) -> JsonResponse:
    report = scan_report(get_object_or_404(Scan, pk=pk))
    counts = report["counts"]
    return JsonResponse(
        {
            "status": report["status"],
            "active": report["status"] in ACTIVE_JOB_STATUSES,
            "text": f"{report['progress']:.0%} · {counts['documents']} documents",
            **counts,
        }
    )


@requires("monitor.view_scan")
def scan_download(request: HttpRequest, pk: int, what: str) -> FileResponse:
    scan = get_object_or_404(Scan, pk=pk, status=JobStatus.SUCCEEDED)
    if what not in DOWNLOADS:
        raise Http404("No such download.")
    path = Path(getattr(scan, DOWNLOADS[what]))
    if not path.exists():
        raise Http404("The file is gone from the server.")
    name = f"scan-{scan.pk}-{what}{'.jsonl' if what == 'manifest' else path.suffix}"
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name)
