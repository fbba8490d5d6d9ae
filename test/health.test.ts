import { describe, expect, it } from "vitest";
import { get } from "./helpers/fixtures";

describe("GET /healthz", () => {
	it("answers ok and is never stored", async () => {
		const res = await get("/healthz");
		expect(res.status).toBe(200);
		expect(res.headers.get("Cache-Control")).toBe("no-store");
		expect(await res.json()).toEqual({ ok: true });
	});
});
