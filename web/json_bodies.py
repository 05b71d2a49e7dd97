"""JSON in and out of the GraphQL view: a body that is not a GraphQL request is a client error
(400, in the GraphQL error shape), and nothing but standard JSON is ever sent."""

from __future__ import annotations

import json
import math

import orjson
from starlette.responses import Response


class MalformedJSON(json.JSONDecodeError):
    """Any JSON a client sent that Python cannot turn into a value. A JSONDecodeError, so that
    Strawberry's HTTP and websocket code treat it as the bad JSON it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)


def decode_client_json(data: str | bytes) -> object:
    # The standard library's reading (not orjson's): what is accepted, e.g. how deep, and how
    # a refusal reads are part of the API.
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise MalformedJSON("arrays and objects are nested too deeply") from None
    except UnicodeError:
        raise MalformedJSON("the text is not valid UTF-8") from None
    except ValueError as error:
        # Python refuses numbers of more than 4,300 digits.
        raise MalformedJSON(str(error)) from None


def encode_standard_json_bytes(data: object) -> bytes:
    """encode_standard_json as the bytes of an HTTP body (orjson writes bytes)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return encode_standard_json(data).encode()


def encode_standard_json(data: object) -> str:
    """Standard JSON for every response body and websocket frame (text: clients expect text
    frames). orjson first: several times faster on a stream of small events, and it writes NaN
    and infinities (which JSON.parse rejects) as null. What it refuses (a lone surrogate a client
    sent, an integer beyond 64 bits) goes out as compact ASCII JSON, the surrogate escaped."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:
        pass
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(member) for key, member in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(member) for member in value]
    return value


def client_error_response(status_code: int, message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
    return Response(encode_standard_json(body), status_code=status_code, media_type="application/json")
