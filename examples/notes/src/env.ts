/** The Worker's bindings (wrangler types: worker-configuration.d.ts) and the secrets wrangler.toml cannot list. */
export type Bindings = Env & {
	/** Bearer token for the admin routes (secret). */
	ADMIN_TOKEN?: string;
	/** Standard Webhooks secret(s), `whsec_…`, space-separated during a rotation (secret). */
	PURGE_WEBHOOK_SECRET?: string;
};

export type AppEnv = { Bindings: Bindings };
