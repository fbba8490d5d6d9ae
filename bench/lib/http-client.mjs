// A small keep-alive HTTP/1.1 client on node:http for the load generator:
// it costs the shared CPU about a fifth of what fetch() does per request, so
// more of the machine is left to the Worker being measured.
import http from "node:http";

/**
 * A client for one origin (e.g. http://127.0.0.1:1234) with at most `sockets`
 * connections. A request whose connection stays silent for `timeoutMs` fails
 * (a runtime that stopped answering ends the benchmark's phase with errors
 * instead of holding it forever).
 */
export function createClient(origin, { sockets = 64, timeoutMs = 30_000 } = {}) {
	const url = new URL(origin);
	const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
	const client = {
		origin: url.origin,
		/** Requests sent again after a kept-alive connection turned out closed (see below). */
		retries: 0,
		/**
		 * Sends one request; resolves with status, headers (lower-case names)
		 * and the body as text. `signal` aborts it, and so does `timeoutMs` of
		 * silence. A request that fails with ECONNRESET on a reused keep-alive
		 * connection (the server closed it while idle, before the request
		 * reached it) is sent once more on a new one, as Node's documentation
		 * advises.
		 */
		request(path, { method = "GET", headers = {}, body, signal } = {}) {
			const attempt = (retry) =>
				new Promise((resolve, reject) => {
					const req = http.request(
						{ host: url.hostname, port: url.port, path, method, headers, agent, signal },
						(res) => {
							const chunks = [];
							res.on("data", (chunk) => chunks.push(chunk));
							res.on("end", () =>
								resolve({
									status: res.statusCode ?? 0,
									headers: res.headers,
									text: Buffer.concat(chunks).toString("utf8"),
								}),
							);
							res.on("error", reject);
						},
					);
					req.setTimeout(timeoutMs, () =>
						req.destroy(new Error(`no answer from ${url.origin}${path} within ${timeoutMs} ms`)),
					);
					req.on("error", (err) => {
						if (retry && req.reusedSocket && err.code === "ECONNRESET" && !signal?.aborted) {
							client.retries++;
							resolve(attempt(false));
						} else reject(err);
					});
					req.end(body);
				});
			return attempt(true);
		},
		close() {
			agent.destroy();
		},
	};
	return client;
}
