// Stale-read detection. A read is stale when it was issued after a write to
// one of the products it returns had been acknowledged, and it still shows a
// version older than that write (bodies carry updatedAt, ISO 8601, comparable
// as strings).
export class StaleDetector {
	#acked = new Map();
	staleReads = 0;
	checkedReads = 0;

	/** A write to product `id` was acknowledged at `at` (ms) with `updatedAt`. */
	acknowledge(id, updatedAt, at) {
		const previous = this.#acked.get(id);
		if (!previous || previous.updatedAt < updatedAt) this.#acked.set(id, { updatedAt, at });
	}

	/**
	 * Checks a read issued at `issuedAt` (ms) whose body holds these products;
	 * returns true (and counts it) when any of them is older than a write
	 * acknowledged before the read was issued.
	 */
	check(products, issuedAt) {
		this.checkedReads++;
		for (const product of products) {
			const acked = this.#acked.get(product.id);
			if (acked && acked.at < issuedAt && product.updatedAt < acked.updatedAt) {
				this.staleReads++;
				return true;
			}
		}
		return false;
	}
}

/** The products a response body holds: one product, or a listing's items. */
export function productsIn(body) {
	if (!body || typeof body !== "object") return [];
	const data = body.data;
	if (Array.isArray(data)) return data.filter((p) => p && typeof p.updatedAt === "string" && "sku" in p);
	if (data && typeof data.updatedAt === "string" && "sku" in data) return [data];
	return [];
}
