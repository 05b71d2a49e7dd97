"""The HTTP and websocket entry: who is calling."""

from __future__ import annotations

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from db.engine import json_text
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

    def encode_json(self, data: object) -> str:
        # Every response body and websocket frame (text frames: clients expect them); orjson
        # is several times faster than the standard library on a stream of small events.
        return json_text(data)

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
