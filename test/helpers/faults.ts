/** A KV namespace that is down: the fault injected through the engine's `kv` seam. */
export const downKv = {
	get: async () => {
		throw new Error("KV GET failed: 503");
	},
	put: async () => {
		throw new Error("KV PUT failed: 503");
	},
} as unknown as KVNamespace;
