import type { D1Migration } from "cloudflare:test";

declare global {
	namespace Cloudflare {
		interface Env {
			/** Read by vitest.config.ts, applied by test/setup/apply-migrations.ts. */
			TEST_MIGRATIONS: D1Migration[];
			ADMIN_TOKEN: string;
			PURGE_WEBHOOK_SECRET: string;
		}
	}
}
