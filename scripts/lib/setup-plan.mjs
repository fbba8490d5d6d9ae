// What `npm run setup:cloudflare` does, as data: the wrangler commands, how
// each command's output gives an id, and how the ids go into wrangler.toml.

export const PLACEHOLDERS = {
	d1: "00000000-0000-4000-8000-000000000000",
	kv: "00000000000000000000000000000000",
};

/** The steps, in order. `parse` turns a command's output into an id (or null). */
export function setupPlan({
	database = "tiercache",
	queue = "tiercache-purge",
	deadLetterQueue = "tiercache-purge-dlq",
} = {}) {
	return [
		{
			what: `D1 database ${database}`,
			args: ["d1", "create", database],
			id: "d1",
			parse: (out) => /database_id\W+([0-9a-f-]{36})/i.exec(out)?.[1] ?? null,
		},
		{
			what: "KV namespace CACHE_KV",
			args: ["kv", "namespace", "create", "CACHE_KV"],
			id: "kv",
			parse: (out) => /\bid\W+([0-9a-f]{32})/i.exec(out)?.[1] ?? null,
		},
		{ what: `queue ${queue}`, args: ["queues", "create", queue] },
		{ what: `dead-letter queue ${deadLetterQueue}`, args: ["queues", "create", deadLetterQueue] },
	];
}

/** wrangler.toml with the placeholder ids replaced by real ones; throws when a placeholder is missing. */
export function applyIds(toml, ids) {
	let out = toml;
	for (const [kind, id] of Object.entries(ids)) {
		const placeholder = PLACEHOLDERS[kind];
		if (!placeholder) throw new Error(`unknown resource kind ${kind}`);
		if (!out.includes(`"${placeholder}"`)) throw new Error(`wrangler.toml has no placeholder ${kind} id to replace`);
		out = out.replace(`"${placeholder}"`, `"${id}"`);
	}
	return out;
}

/** The secrets and variables to set after the resources exist, with fresh values. */
export function secretSteps(randomBase64) {
	return [
		`echo "${randomBase64(32)}" | npx wrangler secret put ADMIN_TOKEN`,
		`echo "whsec_${randomBase64(32)}" | npx wrangler secret put PURGE_WEBHOOK_SECRET`,
		"# optional, for the zone purger: PURGE_ZONE_ID under [vars] in wrangler.toml, then",
		"npx wrangler secret put PURGE_API_TOKEN   # an API token with the Cache Purge permission",
		"# optional, Workers Cache in front of the Worker: cache = { enabled = true } in wrangler.toml",
		"npm run deploy   # applies the remote migrations first (predeploy)",
	];
}
