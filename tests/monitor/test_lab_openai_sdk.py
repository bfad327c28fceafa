"""The official ``openai`` SDK, pointed at the lab's API, gets what OpenAI's API would give it."""

import openai
import pytest

from tests.monitor.conftest import LAB_TOKEN

pytestmark = pytest.mark.usefixtures("serve_the_small_lab")

PROBE = "In which country is the city of Shanghai?"


@pytest.fixture
def sdk(live_server):
    with openai.OpenAI(
        base_url=f"{live_server.url}/lab/v1", api_key=LAB_TOKEN, max_retries=0
    ) as client:
        yield client


def test_n_three_gives_three_choices(sdk):
    reply = sdk.chat.completions.create(
        model="lab-pure-g1", messages=[{"role": "user", "content": PROBE}], n=3
    )
    assert [choice.index for choice in reply.choices] == [0, 1, 2]
    assert all(choice.message.content for choice in reply.choices)


def test_a_list_of_prompts_gives_a_choice_each(sdk):
    reply = sdk.completions.create(
        model="lab-pure-g0", prompt=[PROBE, "In which country is the city of Beijing?"]
    )
    assert [choice.index for choice in reply.choices] == [0, 1]
    assert reply.choices[0].text.startswith("Shanghai")
    assert reply.choices[1].text.startswith("Beijing")


def test_a_streamed_chat_reply_joins_to_text_and_ends(sdk):
    stream = sdk.chat.completions.create(
        model="lab-anchored-g2", messages=[{"role": "user", "content": PROBE}], stream=True
    )
    chunks = list(stream)  # the SDK stops at [DONE]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text.startswith("Shanghai")
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_streamed_legacy_completion_joins_to_text(sdk):
    stream = sdk.completions.create(model="lab-pure-g0", prompt=PROBE, stream=True)
    assert "".join(chunk.choices[0].text for chunk in stream).startswith("Shanghai")


def test_the_models_are_listed_and_retrieved(sdk):
    ids = [model.id for model in sdk.models.list()]
    assert "lab-pure-g3" in ids and "lab-truncated-drift" in ids
    assert sdk.models.retrieve("lab-pure-g3").id == "lab-pure-g3"


def test_an_unknown_model_raises_not_found(sdk):
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": PROBE}])
    assert raised.value.code == "model_not_found" and raised.value.param == "model"


def test_a_bad_token_raises_authentication_error(live_server):
    with (
        openai.OpenAI(
            base_url=f"{live_server.url}/lab/v1", api_key="wrong", max_retries=0
        ) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.models.list()


def test_a_bad_request_raises_bad_request_error(sdk, settings):
    settings.TAILWATCH_LAB_MAX_N = 2
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(
            model="lab-pure-g0", messages=[{"role": "user", "content": PROBE}], n=3
        )
    assert raised.value.param == "n"
