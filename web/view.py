"""The HTTP and websocket entry: who is calling."""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from schema.context import Context
from schema.strawberry_internals import serves_streams
from services.backend import Backend
from services.errors import DomainError
from web.json_bodies import (
    client_error_response,
    decode_client_json,
    encode_standard_json,
    encode_standard_json_bytes,
)
from web.websockets import LegacyWSHandler, SocketAdapter, TransportWSHandler, close_for

# What Strawberry allows over POST (OperationType.from_http); subscriptions are refused later,
# with a GraphQL error (schema.extensions.Validation).
POST_OPERATION_TYPES = frozenset({OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION})

# Where graphql-ws clients put the token in connection_init (Apollo, urql, graphql-ws docs).
CONNECTION_PARAM_TOKEN_KEYS = ("token", "accessToken", "authToken", "Authorization", "authorization")


class GraphQLView(GraphQL[Context, None]):
    websocket_adapter_class = SocketAdapter
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        # Strawberry answers a request it cannot take with plain text; ours gets a GraphQL error.
        try:
            response = await self._answer_json_post(request) if _is_json_post(scope) else None
            if response is None:
                response = await self.run(request)
        except HTTPException as error:
            response = client_error_response(error.status_code, error.reason)
        await response(scope, receive, send)

    async def _answer_json_post(self, request: Request) -> Response | None:
        """The common request, a POST of one JSON operation, answered as Strawberry's `run`
        answers it, without the steps it takes for every other kind (content-type parsing, GET
        parameters, batches, streaming transports, the IDE, a sub-response): about a sixth of
        a small query's cost. None: not that kind after all (a batch, a streaming `Accept`):
        `run` answers it, from the body read here."""
        data = self.parse_json(await request.body())
        if not isinstance(data, dict) or serves_streams(self):
            return None
        query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
        if not isinstance(query, str | None) or not isinstance(variables, dict | None):
            return None  # `run` refuses them, with its own words
        if not isinstance(extensions, dict | None):
            return None
        context = self._context(request)
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=data.get("operationName"),
                allowed_operation_types=POST_OPERATION_TYPES,
                operation_extensions=extensions,
            )
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except InvalidOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason("POST")) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error
        if not isinstance(result, ExecutionResult):
            raise TypeError(f"a POST answered with {type(result).__name__}: incremental delivery is off")
        return Response(encode_standard_json_bytes(process_result(result)), media_type="application/json")

    def decode_json(self, data: str | bytes) -> object:
        return decode_client_json(data)

    def encode_json(self, data: object) -> str:
        return encode_standard_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        """A request body, or its `variables` or `extensions` in a GET query string."""
        try:
            value = self.decode_json(data)
        except json.JSONDecodeError as error:
            raise HTTPException(400, f"The request is not valid JSON: {error.msg}") from None
        if not isinstance(value, (dict, list)):
            raise HTTPException(400, "The request must be a JSON object, e.g. {\"query\": \"{ health { status } }\"}")
        return value

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return self._context(request)

    def _context(self, request: Request | WebSocket) -> Context:
        backend: Backend = request.app.state.backend
        return Context(
            backend=backend,
            request=request,
            access_token=_header_token(request) or _query_token(request),
            client_address=request.client.host if request.client else "unknown",
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A token in connection_init wins over `?token=`; a refused one closes the socket, with
        4401 "token expired" or 4403 and the reason (web.websockets)."""
        token = _connection_params_token(context.connection_params)
        if token:
            context.access_token = token
        try:
            await context.actor()
        except DomainError as error:
            assert isinstance(context.request, WebSocket)
            await close_for(context.request, error)
            raise ConnectionRejectionError({"message": str(error), "code": error.code}) from None
        return UNSET


def _is_json_post(scope: Scope) -> bool:
    """A POST whose Content-Type is exactly application/json (parameters allowed): what
    Strawberry reads as JSON. Any other spelling goes through Strawberry's own parsing."""
    if scope["method"] != "POST":
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip() == b"application/json"
    return False


def _header_token(request: HTTPConnection) -> str | None:
    return _bearer(request.headers.get("authorization"))


def _query_token(request: HTTPConnection) -> str | None:
    """`?token=` is for websockets only (browsers cannot set their headers); over plain HTTP it
    would end up in access logs and browser histories, so it is ignored there."""
    if not isinstance(request, WebSocket):
        return None
    return request.query_params.get("token") or None


def _connection_params_token(params: object) -> str | None:
    if not isinstance(params, dict):
        return None
    headers = params.get("headers")
    candidates = [params.get(key) for key in CONNECTION_PARAM_TOKEN_KEYS]
    if isinstance(headers, dict):
        candidates += [headers.get("Authorization"), headers.get("authorization")]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return _bearer(candidate) or candidate
    return None


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None
