"""Small builders for test data."""

import itertools

from monitor.models import Endpoint, PromptSet
from monitor.services.endpoints import save_endpoint
from monitor.services.prompts import PromptRow, add_version

_names = itertools.count(1)


def make_prompt_set(open_prompts: int = 2, probes: int = 1) -> PromptSet:
    prompt_set = PromptSet.objects.create(name=f"prompts-{next(_names)}")
    rows = [PromptRow(f"open-{i}", "open", f"Write about topic {i}.") for i in range(open_prompts)]
    rows += [
        PromptRow(f"probe-{i}", "probe", f"Where is city {i}?", [f"Country {i}"], 1e3 * i)
        for i in range(probes)
    ]
    add_version(prompt_set, rows, "test")
    return prompt_set


def make_user(role: str | None = "editor", username: str = ""):
    """A user with ``role`` (viewer, editor or admin; None: logged in, no role at all)."""
    from django.contrib.auth.models import User

    from monitor.services.roles import ROLES, assign_role

    user = User.objects.create_user(
        username or f"user-{next(_names)}", password="a-long-test-password"
    )
    if role is not None:
        assign_role(user, ROLES[role])
    return user


def make_endpoint(base_url: str, **overrides) -> Endpoint:
    fields = {
        "name": "model-a",
        "model_family": "family",
        "version_label": "v1",
        "base_url": base_url,
        "model": "fake",
        "samples_per_prompt": 2,
        "concurrency": 3,
        "timeout_seconds": 5,
        "interval_minutes": 60,
    }
    fields.update(overrides)
    if "prompt_set" not in fields:
        fields["prompt_set"] = make_prompt_set()
    return save_endpoint(Endpoint(**fields))


def english_texts(seed: int, vocabulary: int, prompts: int, samples: int, words: int = 40):
    """``prompts`` × ``samples`` texts of ``words`` words drawn from the ``vocabulary`` most
    common English words: a smaller vocabulary is a blander, more collapsed model."""
    import random

    from wordfreq import top_n_list

    rng = random.Random(seed)
    pool = top_n_list("en", vocabulary)
    return [
        [" ".join(rng.choice(pool) for _ in range(words)) for _ in range(samples)]
        for _ in range(prompts)
    ]


def make_finished_run(endpoint: Endpoint, texts_by_prompt: list[list[str]]):
    """A run of ``endpoint`` whose samples are the given texts (prompt by prompt), finished
    as a worker would finish it."""
    from monitor.clients.openai_compatible import Completion
    from monitor.models import Run
    from monitor.services import sampling

    run = sampling.start_run(endpoint)
    prompts = list(run.prompt_set_version.prompts.all())
    for prompt, texts in zip(prompts, texts_by_prompt, strict=False):
        for index, text in enumerate(texts[: run.samples_per_prompt]):
            sampling.record_sample(run, prompt, index, Completion(text, "stop", 5, 40, 10, 1))
    Run.objects.filter(pk=run.pk).update(lease_token="test-worker")
    return sampling.finish_run(run, "test-worker")


def blandness_against(run, reference) -> float:
    """The blandness index of ``run``'s outputs measured from ``reference``'s outputs at the
    length they share, computed here from the stored samples: what the pipeline should have
    stored for ``run``."""
    import evaluators
    from monitor.services import scoring

    report = evaluators.score(
        scoring.run_batch(run), baseline=scoring.run_batch(reference), embed=False
    )
    return report.metrics["blandness_index"].value


def make_scored_run(endpoint: Endpoint, seed: int, vocabulary: int, words: int = 40):
    """A scored run of ``endpoint`` whose every output is ``words`` words drawn from the
    ``vocabulary`` most common English words (see ``english_texts``), one per prompt and
    sample."""
    from monitor.services import scoring

    prompts = endpoint.prompt_set.latest_version.prompts.count()
    texts = english_texts(seed, vocabulary, prompts, endpoint.samples_per_prompt, words=words)
    return scoring.score_run(make_finished_run(endpoint, texts).pk)
