"""The prompt-set pages: every set with its counts, and one set's prompts."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from monitor.models import Prompt, PromptSet, PromptSetVersion

PROMPTS_SHOWN = 500


def prompt_sets_with_counts() -> QuerySet[PromptSet]:
    return PromptSet.objects.annotate(
        version_count=Count("versions", distinct=True),
        endpoint_count=Count("endpoints", distinct=True),
    )


def shown_prompts(version: PromptSetVersion | None) -> QuerySet[Prompt] | list[Prompt]:
    """The first ``PROMPTS_SHOWN`` prompts of ``version``; none without a version."""
    return version.prompts.all()[:PROMPTS_SHOWN] if version else []
