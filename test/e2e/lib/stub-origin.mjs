import { createServer } from "node:http";

/**
 * A scriptable origin for checking the edge VCL's semantics without the
 * Worker: `route(path, answer)` sets what a path answers ({status, headers,
 * body}, or a function of the request returning one); every request is
 * recorded in `requests`. `GET /healthz` answers 200 unless `healthy` is false.
 * `close()` stops listening (the edge then sees connection refused).
 */
export async function startStubOrigin({ port = 0 } = {}) {
	const routes = new Map();
	const requests = [];
	const stub = {
		requests,
		healthy: true,
		route(path, answer) {
			routes.set(path, answer);
		},
		count(path) {
			return requests.filter((r) => r.path === path && r.method !== "HEAD").length;
		},
		last(path) {
			return requests.findLast((r) => r.path === path);
		},
	};
	const server = createServer((req, res) => {
		const path = req.url;
		requests.push({ method: req.method, path, headers: req.headers, at: performance.now() });
		if (path === "/healthz") {
			res.writeHead(stub.healthy ? 200 : 503, { "Cache-Control": "no-store", "Content-Type": "application/json" });
			res.end(JSON.stringify({ ok: stub.healthy }));
			return;
		}
		let answer = routes.get(path);
		if (typeof answer === "function") answer = answer(req, stub);
		if (!answer) {
			res.writeHead(404, { "Cache-Control": "no-store" });
			res.end("not found");
			return;
		}
		const { status = 200, headers = {}, body = "" } = answer;
		const etag = headers.ETag ?? headers.etag;
		if (etag && req.headers["if-none-match"] === etag && status === 200) {
			res.writeHead(304, headers);
			res.end();
			return;
		}
		res.writeHead(status, { "Content-Type": "application/json", ...headers });
		res.end(body);
	});
	server.keepAliveTimeout = 1000;
	await new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", resolve);
	});
	stub.port = server.address().port;
	stub.base = `http://127.0.0.1:${stub.port}`;
	stub.close = () =>
		new Promise((resolve) => {
			server.close(() => resolve());
			server.closeAllConnections();
		});
	stub.listen = () =>
		new Promise((resolve, reject) => {
			server.once("error", reject);
			server.listen(stub.port, "127.0.0.1", resolve);
		});
	return stub;
}
