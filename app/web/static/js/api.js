// @ts-check
/**
 * The only place the page fetches. Each call has a timeout and the caller's
 * AbortSignal; it resolves to a Result (never throws for HTTP or network
 * failures), or to null when the caller aborted it (a superseded request).
 * An error's message is the envelope's `{"error": {"code", "message"}}`.
 * `openStream` opens a server-sent event stream, whose reconnects are the
 * caller's.
 */

const TIMEOUT_MS = 20_000;

/**
 * @typedef {object} Success
 * @property {true} ok
 * @property {number} status
 * @property {unknown} data      read it through bodyOf, typed by its operation
 * @property {boolean} simulated   X-Data-Source: simulator
 * @property {number} dataTime      when the data left the upstream (ms): now - X-Data-Age
 */
/**
 * @typedef {object} Failure
 * @property {false} ok
 * @property {number} status        0 when no HTTP answer came
 * @property {string} code
 * @property {string} message
 */
/** @typedef {Success | Failure} Result */

/**
 * The operations of /openapi.json, as openapi-typescript writes them (the module
 * "naap-openapi": make types; make test checks the page against it).
 * @typedef {import("naap-openapi").operations} Operations
 * @typedef {import("naap-openapi").paths} Paths
 */
/**
 * The JSON body of an operation's 200 answer, as the document describes it.
 * @template {keyof Operations} Op
 * @typedef {Operations[Op]["responses"] extends { 200: { content: { "application/json": infer B } } } ? B : never} Body
 */

/**
 * A result's body, typed as the 200 answer of `operation` (its operationId in
 * /openapi.json: only the type checker reads it); undefined unless the route
 * answered 200.
 * @template {keyof Operations} Op
 * @param {Result | undefined} result
 * @param {Op} operation
 * @returns {Body<Op> | undefined}
 */
export function bodyOf(result, operation) {
  void operation;
  return result?.ok ? /** @type {Body<Op>} */ (result.data) : undefined;
}

/**
 * A GET route's URL: a path the document lists and query parameters it declares
 * for that path (names and value types checked against it).
 * @template {keyof Paths} P
 * @param {P} path
 * @param {Paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never} [query]
 */
export function routeUrl(path, query) {
  const params = new URLSearchParams(/** @type {Record<string, string>} */ (query ?? {}));
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/**
 * @param {number} status
 * @param {string} code
 * @param {string} message
 * @returns {Failure}
 */
const failure = (status, code, message) => ({ ok: false, status, code, message });

/**
 * GET a JSON route of this server.
 * @param {string} path
 * @param {{ signal?: AbortSignal, timeoutMs?: number }} [options]
 * @returns {Promise<Result | null>}
 */
export async function getJSON(path, { signal, timeoutMs = TIMEOUT_MS } = {}) {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let response;
  let body = null;
  try {
    response = await fetch(path, { signal: combined, headers: { accept: "application/json" } });
    body = await response.json().catch(() => null);
  } catch {
    if (signal?.aborted) return null;
    if (timeout.aborted) return failure(0, "TIMEOUT", `No answer within ${timeoutMs / 1000} s`);
    return failure(0, "NETWORK_ERROR", "The server could not be reached");
  }
  if (signal?.aborted) return null;
  if (!response.ok) {
    const error = body && typeof body === "object" ? body.error : null;
    const message = typeof error?.message === "string" ? error.message : `HTTP ${response.status}`;
    const code = typeof error?.code === "string" ? error.code : "HTTP_ERROR";
    return failure(response.status, code, message);
  }
  if (body === null) return failure(response.status, "BAD_RESPONSE", "The answer was not JSON");
  const age = Number(response.headers.get("x-data-age"));
  return {
    ok: true,
    status: response.status,
    data: body,
    simulated: response.headers.get("x-data-source") === "simulator",
    dataTime: Date.now() - (Number.isFinite(age) && age > 0 ? age * 1000 : 0),
  };
}

/**
 * "503 · SERVICE_UNAVAILABLE", or the code alone when there was no answer.
 * @param {Failure} f
 */
export const statusText = (f) => (f.status ? `HTTP ${f.status} · ${f.code}` : f.code);

/**
 * @typedef {object} StreamError
 * @property {boolean} refused   the server answered, but not with a stream (a 503)
 */

/**
 * Open a server-sent event stream of this server: each named event's JSON data
 * goes to its handler. At the first error the stream is closed and `onError`
 * told; the browser's own reconnecting is not used, so reconnects run on the
 * page's timers.
 * @param {string} path
 * @param {Record<string, (data: any) => void>} handlers
 * @param {(error: StreamError) => void} onError
 * @returns {() => void} closes the stream
 */
export function openStream(path, handlers, onError) {
  const source = new EventSource(path);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => {
      let data;
      try {
        data = JSON.parse(/** @type {MessageEvent} */ (event).data);
      } catch {
        return; // not ours: ignored
      }
      handler(data);
    });
  }
  source.onerror = () => {
    const refused = source.readyState === EventSource.CLOSED;
    source.close();
    onError({ refused });
  };
  return () => source.close();
}
