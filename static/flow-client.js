// A small client of this server's GraphQL API: queries and mutations over HTTP, subscriptions
// over the graphql-transport-ws protocol (https://github.com/enisdenjo/graphql-ws, PROTOCOL.md).
// A classic script (no modules, no build step): it defines window.FlowClient, and pages of
// other origins may load it from the server as they are.
(function () {
  "use strict";

  class GraphQLRequestError extends Error {
    constructor(errors) {
      super(errors.map((error) => error.message).join("; "));
      this.errors = errors;
      this.code = (errors[0] && errors[0].extensions && errors[0].extensions.code) || "INTERNAL";
    }
  }

  function Client(baseUrl, token) {
    this.baseUrl = (baseUrl || window.location.origin).replace(/\/$/, "");
    this.token = token || null;
  }

  Client.prototype.request = async function (query, variables) {
    const headers = { "content-type": "application/json" };
    if (this.token) headers.authorization = "Bearer " + this.token;
    const response = await fetch(this.baseUrl + "/graphql", {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ query: query, variables: variables || {} }),
    });
    const body = await response.json();
    if (body.errors && body.errors.length) throw new GraphQLRequestError(body.errors);
    return body.data;
  };

  Client.prototype.login = async function (identifier, password) {
    const data = await this.request(
      "mutation Login($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }",
      { input: { identifier: identifier, password: password } }
    );
    this.token = data.login.accessToken;
    return data.login;
  };

  // Runs one subscription on a socket of its own. `handlers`: next(data), error(error),
  // complete(). Returns a function that stops it.
  Client.prototype.subscribe = function (query, variables, handlers) {
    const socket = new WebSocket(this.baseUrl.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
    let finished = false;
    const finish = function (callback, value) {
      if (finished) return;
      finished = true;
      callback(value);
      if (socket.readyState <= WebSocket.OPEN) socket.close(1000);
    };
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: this.token ? { token: this.token } : {} }));
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      switch (frame.type) {
        case "connection_ack":
          socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: query, variables: variables || {} } }));
          break;
        case "ping":
          socket.send(JSON.stringify({ type: "pong" }));
          break;
        case "next":
          if (frame.payload.errors && frame.payload.errors.length) {
            finish(handlers.error, new GraphQLRequestError(frame.payload.errors));
          } else {
            handlers.next(frame.payload.data);
          }
          break;
        case "error":
          finish(handlers.error, new GraphQLRequestError(frame.payload));
          break;
        case "complete":
          finish(handlers.complete);
          break;
      }
    };
    socket.onclose = (event) => {
      const code = event.code === 4401 ? "UNAUTHENTICATED" : event.code === 4403 ? "FORBIDDEN" : "CLOSED";
      finish(handlers.error, new GraphQLRequestError([{ message: event.reason || "connection closed (" + event.code + ")", extensions: { code: code } }]));
    };
    return function stop() {
      if (!finished && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id: "1", type: "complete" }));
      finished = true;
      socket.close(1000);
    };
  };

  window.FlowClient = { Client: Client, GraphQLRequestError: GraphQLRequestError };
})();
