"""The lab the app serves at ``/lab/v1``: the default config, cached under ``VAR_DIR/lab``, one
per process; which of its generations a model id names; and the answer to a request.

Only generations already trained are served: one not trained yet is queued for the worker to
train (``train_generation``) and the request told to come back (503 with Retry-After), so no web
request ever spends a minute and hundreds of megabytes training.
"""

from __future__ import annotations

import functools
import hmac
import random

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Q

from lab import (
    MAX_GENERATION,
    Arm,
    Lab,
    LabConfig,
    drifting_model_id,
    parse_drifting_model_id,
    parse_model_id,
)
from lab import model_id as generation_model_id
from lab.respond import LabModel
from monitor import queue
from monitor.fake_llm import (
    CompletionRequest,
    CompletionRequestError,
    FakeResponse,
    completion,
    parse_completion_request,
)
from monitor.models import FINISHED_RUN_STATUSES, Endpoint

# A generation trains in seconds once those before it are trained; a whole chain in a minute.
TRAINING_RETRY_AFTER_SECONDS = 20
# However many requests ask for an untrained generation, its training is queued once in this
# long (again after it, should the message have been lost).
TRAINING_QUEUED_SECONDS = 600


@functools.cache
def served_lab() -> Lab:
    """The process's lab; its generations are read from disk, where the worker or ``manage.py
    lab`` trained them."""
    return Lab(LabConfig(), settings.VAR_DIR / "lab")


def train_generation(arm: str, generation: int) -> None:
    """Train generation ``generation`` of ``arm`` and those before it, unless on disk already."""
    served_lab().model(Arm(arm), generation)


def bears_lab_token(authorization: str) -> bool:
    """Whether an ``Authorization`` header carries the lab's bearer token."""
    scheme, _, token = authorization.partition(" ")
    expected = settings.TAILWATCH_LAB_TOKEN.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


def answer(path: str, raw_body: bytes) -> FakeResponse:
    """The completion a request to ``/lab/v1`` gets; ``CompletionRequestError`` for a request
    that gets none: malformed or over a cap (400), an unknown model (404), or a generation not
    trained yet (503, its training queued)."""
    request = parse_completion_request(path, raw_body)
    _check_caps(request)
    seed = request.body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise CompletionRequestError(400, "seed must be an integer", "invalid_type", param="seed")
    model_id = request.body.get("model", "")
    model = trained_model(model_id)
    # A request's integer seed, as in OpenAI's API, makes its reply reproducible; each choice
    # is a reply of its own, sampled independently of the others.
    rng = random.Random(seed)
    texts = model.replies(request.choice_prompts, np.random.default_rng(rng.getrandbits(64)))
    return completion(request, texts, rng)


def _check_caps(request: CompletionRequest) -> None:
    """Refuse (400) a request that would keep the web process sampling for long."""
    caps = (
        ("n", request.n, settings.TAILWATCH_LAB_MAX_N, "choices"),
        ("prompt", len(request.prompts), settings.TAILWATCH_LAB_MAX_PROMPTS, "prompts"),
    )
    for param, asked, cap, what in caps:
        if asked > cap:
            raise CompletionRequestError(
                400,
                f"{asked} {what} asked for; the lab answers at most {cap} in one request.",
                "invalid_value",
                param=param,
            )
    cap = settings.TAILWATCH_LAB_MAX_PROMPT_CHARS
    longest = max(len(prompt) for prompt in request.prompts)
    if longest > cap:
        raise CompletionRequestError(
            400,
            f"The prompt is {longest} characters long; lab models read at most {cap}.",
            "context_length_exceeded",
            param="messages" if request.is_chat else "prompt",
        )


def trained_model(model_id: str) -> LabModel:
    """The generation that answers ``model_id``; ``CompletionRequestError`` for an id that names
    no lab model (404) or a generation not trained yet (503, its training queued)."""
    target = served_generation(model_id)
    if target is None:
        raise _unknown_model(model_id)
    model = served_lab().trained_lab_model(*target)
    if model is None:
        request_training(*target)
        raise CompletionRequestError(
            503,
            f"The model '{model_id}' is being trained; try again in "
            f"{TRAINING_RETRY_AFTER_SECONDS} seconds.",
            "model_not_ready",
            error_type="server_error",
            headers={"Retry-After": str(TRAINING_RETRY_AFTER_SECONDS)},
        )
    return model


def _unknown_model(model_id: str) -> CompletionRequestError:
    return CompletionRequestError(
        404,
        f"The model '{model_id[:100]}' does not exist; lab models are named like lab-pure-g3, "
        "lab-anchored-g0 or lab-truncated-drift.",
        "model_not_found",
        param="model",
    )


def served_model_ids() -> list[str]:
    """Every model id the lab answers to: each arm's generations, then each arm drifting."""
    generations = range(MAX_GENERATION + 1)
    fixed = [generation_model_id(arm, generation) for arm in Arm for generation in generations]
    return [*fixed, *(drifting_model_id(arm) for arm in Arm)]


def model_object(served_id: str) -> dict:
    """``served_id`` as OpenAI describes a model (``GET /models/{id}``); 404 for no lab model.
    Lab models have no release date: ``created`` is 0."""
    if parse_model_id(served_id) is None and parse_drifting_model_id(served_id) is None:
        raise _unknown_model(served_id)
    return {"id": served_id, "object": "model", "created": 0, "owned_by": "tailwatch-lab"}


def request_training(arm: Arm, generation: int) -> None:
    """Queue the training of a generation for the worker, once however often it is asked for."""
    claim = f"lab-training:{arm}:{generation}"
    if cache.add(claim, True, TRAINING_QUEUED_SECONDS) and not queue.train_lab_generation(
        arm, generation
    ):
        cache.delete(claim)  # the broker is down: the next request asks again


def served_generation(model_id: str) -> tuple[Arm, int] | None:
    """The arm and generation a request for ``model_id`` is answered by; None for an id that
    names no lab model. A fixed id ("lab-pure-g3") names its generation; a drifting one
    ("lab-truncated-drift") serves the generation after the last one its endpoint ran."""
    fixed = parse_model_id(model_id)
    if fixed is not None:
        return fixed
    arm = parse_drifting_model_id(model_id)
    return None if arm is None else (arm, drifting_generation(model_id))


def drifting_generation(model_id: str) -> int:
    """The generation a drifting model serves now: as many as its endpoint's finished runs, so
    each run gets the next generation (every request of a run the same one, since the run
    itself is not finished while it samples), up to the chain's last. The runs are counted on
    the endpoint of this model id with the most of them, should several share it."""
    finished = Count("runs", filter=Q(runs__status__in=FINISHED_RUN_STATUSES))
    runs = Endpoint.objects.filter(model=model_id).annotate(finished=finished)
    return min(runs.aggregate(most=Max("finished"))["most"] or 0, MAX_GENERATION)
