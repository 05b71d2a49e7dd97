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
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from resolvers.json_bodies import client_error_response, decode_client_json, encode_standard_json
from resolvers.websockets import LegacyWSHandler, SocketAdapter, TransportWSHandler, close_for
from schema.context import Context
from services.backend import Backend
from services.errors import DomainError

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
        # Strawberry answers a request it cannot take with plain text; ours gets a GraphQL error.
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:
            response = client_error_response(error.status_code, error.reason)
        await response(scope, receive, send)

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
        backend: Backend = request.app.state.backend
        return Context(
            backend=backend,
            request=request,
            access_token=_header_token(request) or _query_token(request),
            client_address=request.client.host if request.client else "unknown",
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A token in connection_init wins over `?token=`; a refused one closes the socket, with
        4401 "token expired" or 4403 and the reason (resolvers.websockets)."""
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
