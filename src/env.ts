/**
 * Bindings as the Worker sees them: the generated `Env` (wrangler types) plus
 * the secrets and development-only variables that wrangler.toml cannot list.
 */
export type Bindings = Omit<Env, "ENVIRONMENT"> & {
	/** "production" (wrangler.toml) or "development" (.dev.vars). */
	ENVIRONMENT: string;
	/** Bearer token for the admin routes (secret). */
	ADMIN_TOKEN?: string;
	/** Standard Webhooks secret(s), `whsec_…`, space-separated during rotation (secret). */
	PURGE_WEBHOOK_SECRET?: string;
	/** Added delay before every origin load; honoured only in development. */
	ORIGIN_DELAY_MS?: string;
	/** Zone whose cache is purged by tag through the purge API. */
	PURGE_ZONE_ID?: string;
	/** API token with Cache Purge permission (secret). */
	PURGE_API_TOKEN?: string;
	/** Purge API origin; default https://api.cloudflare.com (tests point it at a stub). */
	PURGE_API_BASE?: string;
	/** Seconds before the delayed re-purge; default 5 (a view of the clock is at most a second old). */
	PURGE_REPURGE_DELAY_S?: string;
	/** A Varnish with edge/varnish.vcl to purge by surrogate key, e.g. http://127.0.0.1:8080/. */
	VARNISH_PURGE_URL?: string;
	/** The token that Varnish's VCL expects in X-Purge-Token (secret). */
	VARNISH_PURGE_TOKEN?: string;
	/** "true": soft purge (stale, refetched in grace) instead of removal. */
	VARNISH_SOFT_PURGE?: string;
	/** Fastly service whose cache is purged by surrogate key. */
	FASTLY_SERVICE_ID?: string;
	/** Fastly API token with purge permission (secret). */
	FASTLY_API_TOKEN?: string;
	/** "true": soft purge (Fastly-Soft-Purge: 1). */
	FASTLY_SOFT_PURGE?: string;
	/** Fastly API origin; default https://api.fastly.com (tests point it at a stub). */
	FASTLY_API_BASE?: string;
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
