import { describe, expect, it } from "vitest";
import { applyIds, PLACEHOLDERS, secretSteps, setupPlan } from "../scripts/lib/setup-plan.mjs";

const TOML = `
[[d1_databases]]
binding = "DB"
database_name = "tiercache"
database_id = "${PLACEHOLDERS.d1}"

[[kv_namespaces]]
binding = "CACHE_KV"
id = "${PLACEHOLDERS.kv}"
`;

describe("npm run setup:cloudflare", () => {
	it("plans the four resources with wrangler, in order", () => {
		expect(setupPlan().map((s) => `wrangler ${s.args.join(" ")}`)).toEqual([
			"wrangler d1 create tiercache",
			"wrangler kv namespace create CACHE_KV",
			"wrangler queues create tiercache-purge",
			"wrangler queues create tiercache-purge-dlq",
		]);
	});

	it("reads the ids from wrangler's output, in TOML or JSON form", () => {
		const [d1, kv] = setupPlan();
		const dbId = "4c2b1c4e-8f55-4e4c-9d43-0a2f3b1c5d6e";
		expect(
			d1?.parse?.(
				`✅ Successfully created DB 'tiercache'\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "tiercache"\ndatabase_id = "${dbId}"`,
			),
		).toBe(dbId);
		expect(
			d1?.parse?.(`{ "d1_databases": [{ "binding": "DB", "database_name": "tiercache", "database_id": "${dbId}" }] }`),
		).toBe(dbId);
		expect(d1?.parse?.("✘ [ERROR] A database with that name already exists")).toBeNull();
		const kvId = "0f2ac74b498b48028cb68387c421e279";
		expect(kv?.parse?.(`[[kv_namespaces]]\nbinding = "CACHE_KV"\nid = "${kvId}"`)).toBe(kvId);
		expect(kv?.parse?.(`{ "kv_namespaces": [{ "binding": "CACHE_KV", "id": "${kvId}" }] }`)).toBe(kvId);
	});

	it("writes the ids over the placeholders, and refuses when there is none", () => {
		const out = applyIds(TOML, { d1: "4c2b1c4e-8f55-4e4c-9d43-0a2f3b1c5d6e", kv: "0f2ac74b498b48028cb68387c421e279" });
		expect(out).toContain('database_id = "4c2b1c4e-8f55-4e4c-9d43-0a2f3b1c5d6e"');
		expect(out).toContain('id = "0f2ac74b498b48028cb68387c421e279"');
		expect(out).not.toContain(PLACEHOLDERS.d1);
		expect(() => applyIds(out, { d1: "x" })).toThrow(/no placeholder/);
	});

	it("prints the secrets with fresh values, never the development ones", () => {
		const steps = secretSteps(() => "R4nd0m").join("\n");
		expect(steps).toContain('echo "R4nd0m" | npx wrangler secret put ADMIN_TOKEN');
		expect(steps).toContain('echo "whsec_R4nd0m" | npx wrangler secret put PURGE_WEBHOOK_SECRET');
		expect(steps).not.toContain("dev-admin-token");
	});
});
