import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const engine = path.join(import.meta.dirname, "packages/tiercache/src");
const packageAliases = [
	{ find: /^tiercache$/, replacement: path.join(engine, "index.ts") },
	...["purge", "webhook", "migrations"].map((entry) => ({
		find: new RegExp(`^tiercache/${entry}$`),
		replacement: path.join(engine, entry, "index.ts"),
	})),
];

export default defineConfig(async () => {
	const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
	return {
		plugins: [
			cloudflareTest({
				wrangler: { configPath: "./wrangler.toml" },
				miniflare: {
					// Tests run as production would, with test secrets that are not the
					// development defaults; set here so that a local .dev.vars never
					// changes what the tests see.
					bindings: {
						TEST_MIGRATIONS: migrations,
						ENVIRONMENT: "production",
						ORIGIN_DELAY_MS: "0",
						LOG_REQUESTS: "off",
						ADMIN_TOKEN: "test-admin-token",
						PURGE_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
					},
				},
			}),
		],
		// The engine's source under its package names, as tsconfig.json's paths.
		resolve: { alias: packageAliases },
		test: {
			include: ["test/**/*.test.ts", "packages/tiercache/test/**/*.test.ts"],
			setupFiles: ["./test/setup/apply-migrations.ts"],
		},
	};
});
