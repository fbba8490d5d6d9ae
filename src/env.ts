import type { PurgeEnv } from "tiercache/purge";

/**
 * Bindings as the Worker sees them: the generated `Env` (wrangler types) plus
 * the secrets and development-only variables that wrangler.toml cannot list.
 */
export type Bindings = Omit<Env, "ENVIRONMENT"> &
	/** The edge purgers' variables (zone, Varnish, Fastly): see tiercache/purge. */
	PurgeEnv & {
		/** "production" (wrangler.toml) or "development" (.dev.vars). */
		ENVIRONMENT: string;
		/** Bearer token for the admin routes (secret). */
		ADMIN_TOKEN?: string;
		/** Standard Webhooks secret(s), `whsec_…`, space-separated during rotation (secret). */
		PURGE_WEBHOOK_SECRET?: string;
		/** Added delay before every origin load; honoured only in development. */
		ORIGIN_DELAY_MS?: string;
		/** Seconds before the delayed re-purge; default 5 (a view of the clock is at most a second old). */
		PURGE_REPURGE_DELAY_S?: string;
		/**
		 * Development only: overrides every catalog route's windows, e.g.
		 * "ttl=2,staleWhileRevalidate=1,staleIfError=4" (end-to-end tests of the edge).
		 */
		POLICY_OVERRIDES?: string;
		/** "off" silences the one-line-per-request log (tests, benchmarks). */
		LOG_REQUESTS?: string;
	};

export type AppEnv = {
	Bindings: Bindings;
	Variables: {
		requestId: string;
	};
};

export const DEV_ADMIN_TOKEN = "dev-admin-token";
export const DEV_PURGE_WEBHOOK_SECRET = "whsec_dGllcmNhY2hlLWxvY2FsLWRldmVsb3BtZW50LWtleSE=";

export function isDevelopment(env: Pick<Bindings, "ENVIRONMENT">): boolean {
	return env.ENVIRONMENT === "development";
}
