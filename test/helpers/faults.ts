/** A KV namespace that is down: the fault injected through the engine's `kv` seam. */
export const downKv = {
	get: async () => {
		throw new Error("KV GET failed: 503");
	},
	put: async () => {
		throw new Error("KV PUT failed: 503");
	},
} as unknown as KVNamespace;

const RAW = Symbol("raw statement");

/**
 * The real D1 binding behind a switch: while `down` is set, every statement
 * and batch fails as an unreachable database does. The fault is injected
 * through the engine's `database` seam; nothing else of D1 is imitated.
 */
export function switchableD1(real: D1Database) {
	const state = { down: false };
	const unavailable = () => new Error("D1_ERROR: Network connection lost.");
	const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
		new Proxy(statement, {
			get(target, prop) {
				if (prop === RAW) return target;
				if (prop === "bind") return (...values: unknown[]) => wrap(target.bind(...values));
				const value = Reflect.get(target, prop, target);
				if (typeof value !== "function") return value;
				return (...args: unknown[]) => {
					if (state.down) return Promise.reject(unavailable());
					return value.apply(target, args);
				};
			},
		});
	const d1 = new Proxy(real, {
		get(target, prop) {
			if (prop === "prepare") return (query: string) => wrap(target.prepare(query));
			if (prop === "batch") {
				return (statements: D1PreparedStatement[]) => {
					if (state.down) return Promise.reject(unavailable());
					// Unwrap: the real batch needs the real statements.
					return target.batch(statements.map((s) => (s as unknown as { [RAW]: D1PreparedStatement })[RAW] ?? s));
				};
			}
			const value = Reflect.get(target, prop, target);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
	return { d1, state };
}

/** A promise that never settles: a binding that stopped answering. */
const never = <T>() => new Promise<T>(() => {});

/** The real KV binding, except that reads never answer (writes go through). */
export function hangingKvReads(real: KVNamespace): KVNamespace {
	return new Proxy(real, {
		get(target, prop) {
			if (prop === "get" || prop === "getWithMetadata") return () => never();
			const value = Reflect.get(target, prop, target);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}

/**
 * Opens the real Cache API cache, whose `match` never answers for the
 * entries' keys (`https://tiercache.invalid/…`); the clock's own keys, and
 * every write, go through.
 */
export async function cacheWithHangingEntryReads(name: string): Promise<Cache> {
	const real = await caches.open(name);
	return new Proxy(real, {
		get(target, prop) {
			if (prop === "match") {
				return (request: RequestInfo | URL, options?: CacheQueryOptions) =>
					String(request instanceof Request ? request.url : request).startsWith("https://tiercache.invalid/")
						? never()
						: target.match(request, options);
			}
			const value = Reflect.get(target, prop, target);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}

/**
 * The real D1 binding, except that a batch holding a statement prepared from
 * SQL that `stalls` matches never answers; everything else goes through.
 */
export function stallingD1(real: D1Database, stalls: (sql: string) => boolean): D1Database {
	return faultyD1(real, stalls, never);
}

/** The same, except that such a batch fails at once, as D1 does on an error. */
export function failingD1(real: D1Database, fails: (sql: string) => boolean): D1Database {
	return faultyD1(real, fails, () => Promise.reject(new Error("D1_ERROR: injected fault")));
}

function faultyD1(real: D1Database, stalls: (sql: string) => boolean, answer: <T>() => Promise<T>): D1Database {
	const stalled = new WeakSet<D1PreparedStatement>();
	const mark = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
		if (!stalls(sql)) return statement;
		const wrapped = new Proxy(statement, {
			get(target, prop) {
				if (prop === "bind") return (...values: unknown[]) => mark(target.bind(...values), sql);
				if (prop === RAW) return target;
				const value = Reflect.get(target, prop, target);
				return typeof value === "function" ? () => answer() : value;
			},
		});
		stalled.add(wrapped);
		return wrapped;
	};
	return new Proxy(real, {
		get(target, prop) {
			if (prop === "prepare") return (query: string) => mark(target.prepare(query), query);
			if (prop === "batch") {
				return (statements: D1PreparedStatement[]) =>
					statements.some((s) => stalled.has(s)) ? answer() : target.batch(statements);
			}
			const value = Reflect.get(target, prop, target);
			return typeof value === "function" ? value.bind(target) : value;
		},
	});
}
