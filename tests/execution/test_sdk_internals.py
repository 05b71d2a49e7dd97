"""The openai and anthropic SDKs still do what the provider clients take from their private API
(services/execution/providers/sdk_internals.py); a failure names the SDK and its version."""

from __future__ import annotations

import httpx2
import pytest

from services.execution.providers.sdk_internals import ANTHROPIC, OPENAI, SDK

SEE = "see services/execution/providers/sdk_internals.py"
BASE_URL = "http://provider.test/v9"
KEY = "sk-test"
PAYLOAD = {"error": {"message": "slow down"}}


def client_of(sdk: SDK) -> object:
    return sdk.client(api_key=KEY, base_url=BASE_URL, timeout=7.0, max_retries=0)


def require(sdk: SDK, holds: bool, what: str) -> None:
    if not holds:
        pytest.fail(f"{sdk.name} {sdk.version}: {what}: {SEE}")


@pytest.mark.parametrize("sdk", [OPENAI, ANTHROPIC], ids=lambda sdk: sdk.name)
def test_the_private_builder_makes_the_post_the_client_would_send(sdk: SDK) -> None:
    try:
        request = sdk.post_request(client_of(sdk), "/chat")  # type: ignore[arg-type]
    except (AttributeError, TypeError) as error:
        pytest.fail(f"{sdk.name} {sdk.version}: FinalRequestOptions.construct or Client._build_request changed ({error}): {SEE}")
    require(sdk, isinstance(request, httpx2.Request), f"Client._build_request returns a {type(request).__name__}")
    require(sdk, request.method == "POST", f"Client._build_request made a {request.method}")
    require(sdk, str(request.url) == f"{BASE_URL}/chat", f"Client._build_request's URL is {request.url}")
    require(sdk, request.headers.get("authorization") == f"Bearer {KEY}", "Client._build_request no longer sets the API key")
    require(sdk, "timeout" in request.extensions, "Client._build_request no longer puts the client's timeout in extensions")


@pytest.mark.parametrize("sdk", [OPENAI, ANTHROPIC], ids=lambda sdk: sdk.name)
def test_the_private_reader_makes_the_sdks_status_error_of_a_response(sdk: SDK) -> None:
    response = httpx2.Response(
        429,
        headers={"retry-after": "3"},
        json=PAYLOAD,
        request=httpx2.Request("POST", f"{BASE_URL}/chat"),
    )
    try:
        error = sdk.status_error_reader(client_of(sdk))(response)  # type: ignore[arg-type]
    except (AttributeError, TypeError) as raised:
        pytest.fail(f"{sdk.name} {sdk.version}: Client._make_status_error_from_response changed ({raised}): {SEE}")
    require(sdk, isinstance(error, Exception), "Client._make_status_error_from_response returns no exception")
    require(sdk, error.status_code == 429, "the status error has no status_code")
    require(sdk, error.response is response, "the status error does not keep its response")
    # openai's body is the payload's `error` member, anthropic's the payload (retry.error_detail reads both).
    require(sdk, error.body in (PAYLOAD, PAYLOAD["error"]), f"the status error's body is {error.body!r}")
