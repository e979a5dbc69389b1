// The one way pages talk to the server: GraphQL over fetch, subscriptions over
// graphql-transport-ws. Errors keep their `extensions.code` so pages can say what went wrong.

export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.code = errors[0]?.extensions?.code ?? "ERROR";
  }
}

export async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLError([{ message: `the server answered ${response.status}` }]);
  }
  if (body.errors?.length) {
    if (body.errors[0]?.extensions?.code === "UNAUTHENTICATED") toSignin();
    throw new GraphQLError(body.errors);
  }
  return body.data;
}

// A query for one thing by id: null when it does not exist or is not the viewer's to see
// (the server answers both alike, as null or NOT_FOUND).
export async function gqlOne(query, variables, field) {
  try {
    return (await gql(query, variables))[field] ?? null;
  } catch (error) {
    if (error.code === "NOT_FOUND") return null;
    throw error;
  }
}

export function toSignin() {
  const next = encodeURIComponent(location.pathname);
  location.assign(`/signin?next=${next}`);
}

// Subscribe; `onNext(data)` gets each result. Reconnects after a drop, asking again from the
// last position seen when `resume(variables)` says how. Returns a function that stops it.
export function subscribe(query, variables, onNext, { onError = () => {}, resume } = {}) {
  let socket;
  let stopped = false;
  let retry = 500;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "connection_ack") {
        retry = 500;
        const vars = resume ? resume(variables) : variables;
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables: vars } }));
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "next") {
        if (message.payload.errors?.length) onError(new GraphQLError(message.payload.errors));
        else onNext(message.payload.data);
      } else if (message.type === "error") {
        onError(new GraphQLError(message.payload));
      }
    });
    socket.addEventListener("close", () => {
      if (stopped) return;
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 15000);
    });
  };
  open();
  return () => {
    stopped = true;
    socket?.close();
  };
}
