"""Prompt sets: the list with the upload form, and one set's versions and prompts."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from monitor.forms import PromptSetUploadForm
from monitor.models import PromptSet
from monitor.selectors.prompt_sets import prompt_sets_with_counts, shown_prompts
from monitor.services import prompts
from monitor.views.access import requires


# An upload adds a version to a set, created first when the name is new.
@requires(
    "monitor.view_promptset", to_post=("monitor.add_promptset", "monitor.add_promptsetversion")
)
def promptset_list(request: HttpRequest) -> HttpResponse:
    form = PromptSetUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            version = prompts.import_prompt_file(
                form.cleaned_data["name"],
                upload.name,
                upload.read(prompts.MAX_UPLOAD_BYTES + 1),
                form.cleaned_data["description"],
            )
        except prompts.PromptImportError as exc:
            form.add_error("file", f"Nothing was imported: {len(exc.errors)} problem(s).")
            return render(
                request,
                "monitor/promptset_list.html",
                {
                    "form": form,
                    "prompt_sets": prompt_sets_with_counts(),
                    "errors": exc.errors,
                },
            )
        messages.success(request, f"Imported {version} ({version.prompts.count()} prompts).")
        return redirect(version.prompt_set)
    context = {"form": form, "prompt_sets": prompt_sets_with_counts()}
    return render(request, "monitor/promptset_list.html", context)


@requires("monitor.view_promptset")
def promptset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    prompt_set = get_object_or_404(PromptSet, pk=pk)
    versions = prompt_set.versions.all()
    latest = prompt_set.latest_version
    context = {
        "prompt_set": prompt_set,
        "versions": versions,
        "latest": latest,
        "prompts": shown_prompts(latest),
        "upload_form": PromptSetUploadForm(initial={"name": prompt_set.name}),
    }
    return render(request, "monitor/promptset_detail.html", context)
