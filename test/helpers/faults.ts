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
