// The benchmark's HTTP client against a real local server (Node's test
// runner: the client is Node code, outside workerd).
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { createClient } from "../../bench/lib/http-client.mjs";

let server;
let origin;
let connections = 0;
const held = [];

before(async () => {
	server = http.createServer((req, res) => {
		if (req.url === "/silent") {
			held.push(res); // never answered
			return;
		}
		if (req.url === "/half") {
			res.writeHead(200, { "Content-Type": "text/plain" });
			res.write("partial");
			held.push(res); // the body never ends
			return;
		}
		res.writeHead(200, { "Content-Type": "text/plain", "X-Path": req.url });
		res.end("ok");
	});
	server.on("connection", () => connections++);
	await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
	origin = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
	for (const res of held) res.destroy();
	server.closeAllConnections();
	await new Promise((resolve) => server.close(resolve));
});

describe("the benchmark's HTTP client", () => {
	it("fails a request the server never answers after its timeout, naming it", { timeout: 5_000 }, async () => {
		const client = createClient(origin, { timeoutMs: 200 });
		const started = performance.now();
		await assert.rejects(client.request("/silent"), (err) => {
			assert.match(err.message, /^no answer from http:\/\/127\.0\.0\.1:\d+\/silent within 200 ms$/);
			return true;
		});
		const ms = performance.now() - started;
		assert.ok(ms >= 190 && ms < 2_000, `failed after ${Math.round(ms)} ms`);
		client.close();
	});

	it("fails a response whose body stops", { timeout: 5_000 }, async () => {
		const client = createClient(origin, { timeoutMs: 200 });
		await assert.rejects(client.request("/half"), /no answer from .*\/half within 200 ms/);
		client.close();
	});

	it("answers as before, and kept-alive connections idle past the timeout are reused without errors", async () => {
		const client = createClient(origin, { sockets: 1, timeoutMs: 100 });
		const before = connections;
		for (const path of ["/a", "/b", "/c"]) {
			const res = await client.request(path);
			assert.equal(res.status, 200);
			assert.equal(res.text, "ok");
			assert.equal(res.headers["x-path"], path);
			await new Promise((resolve) => setTimeout(resolve, 250)); // idle longer than the timeout
		}
		assert.equal(connections - before, 1, "one connection, kept alive");
		assert.equal(client.retries, 0);
		client.close();
	});
});
