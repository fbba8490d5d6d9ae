import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

const PACKED = path.join(import.meta.dirname, "node_modules", "tiercache", "dist") + path.sep;

/**
 * Fails the run when an import of `tiercache` resolves anywhere but the
 * installed tarball (node_modules/tiercache/dist) — never the workspace's
 * source or its symlink in the repository's node_modules.
 */
function packedTiercacheOnly(): Plugin {
	return {
		name: "packed-tiercache-only",
		enforce: "pre",
		async resolveId(source, importer, options) {
			if (source !== "tiercache" && !source.startsWith("tiercache/")) return null;
			const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
			if (!resolved?.id.startsWith(PACKED)) {
				throw new Error(`'${source}' resolved to ${resolved?.id ?? "nothing"}, not the packed build in ${PACKED}`);
			}
			return resolved;
		},
	};
}

export default defineConfig(async () => {
	const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
	return {
		plugins: [
			packedTiercacheOnly(),
			cloudflareTest({
				wrangler: { configPath: "./wrangler.toml" },
				miniflare: {
					bindings: {
						TEST_MIGRATIONS: migrations,
						ADMIN_TOKEN: "test-admin-token",
						// The Standard Webhooks reference secret.
						PURGE_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
					},
				},
			}),
		],
		test: {
			include: ["test/**/*.test.ts"],
			setupFiles: ["./test/setup/apply-migrations.ts"],
		},
	};
});
