// Stale-read detection. Every acknowledged write is recorded (warm-up
// included), with the time its answer arrived and the isolate that made it.
// A read is judged against every write acknowledged before the read started:
// it is stale when a product it returns shows a version (updatedAt, ISO 8601,
// comparable as strings) older than the newest of those writes'.
//
// Besides that strict count, each stale read is also judged against the
// consistency contract (design.md): the isolate that made a write must serve
// it on its next read; other isolates of the location may lag by up to
// `boundMs`. A read that is stale only against writes made elsewhere less
// than `boundMs` before it started is stale but inside the bound.

/** Writes to one product by one isolate, in order of acknowledgement, with a running maximum. */
class WriteLog {
	at = [];
	newest = [];

	add(at, updatedAt) {
		let i = this.at.length;
		while (i > 0 && this.at[i - 1] > at) i--;
		this.at.splice(i, 0, at);
		this.newest.splice(i, 0, updatedAt);
		for (let j = Math.max(1, i); j < this.at.length; j++) {
			if (this.newest[j] < this.newest[j - 1]) this.newest[j] = this.newest[j - 1];
		}
	}

	/** How many writes were acknowledged strictly before `t`. */
	countBefore(t) {
		let lo = 0;
		let hi = this.at.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (this.at[mid] < t) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	}

	/** The newest version acknowledged before `t`, or undefined. */
	newestBefore(t) {
		const n = this.countBefore(t);
		return n > 0 ? this.newest[n - 1] : undefined;
	}

	/** When the first write newer than `version` was acknowledged (among the first `n`), or undefined. */
	firstNewerThan(version, n) {
		let lo = 0;
		let hi = n;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (this.newest[mid] > version) hi = mid;
			else lo = mid + 1;
		}
		return lo < n ? this.at[lo] : undefined;
	}
}

export class StaleDetector {
	/** product id → isolate → WriteLog */
	#writes = new Map();
	/** Reads stale against a write acknowledged before they started (the strict count). */
	staleReads = 0;
	/** Of those, reads stale beyond the contract's bound (0 ms at the writer, `boundMs` elsewhere). */
	staleBeyondBound = 0;
	checkedReads = 0;
	/** Stale reads (strict) per isolate that served them. */
	byIsolate = {};
	/** The longest time from the first newer write's acknowledgement to a stale read's start (ms), per isolate. */
	maxLagMs = {};
	writes = 0;

	/** @param {{ boundMs?: number }} options - how far another isolate may lag behind the writer (ms). */
	constructor({ boundMs = 0 } = {}) {
		this.boundMs = boundMs;
	}

	/** A write to product `id` was acknowledged at `at` (ms) with `updatedAt`, by `isolate`. */
	acknowledge(id, updatedAt, at, isolate = "a") {
		let perIsolate = this.#writes.get(id);
		if (!perIsolate) {
			perIsolate = new Map();
			this.#writes.set(id, perIsolate);
		}
		let log = perIsolate.get(isolate);
		if (!log) {
			log = new WriteLog();
			perIsolate.set(isolate, log);
		}
		log.add(at, updatedAt);
		this.writes++;
	}

	/**
	 * Judges a read that started at `startedAt` (ms), served by `isolate`,
	 * whose body holds these products. Returns undefined when it is fresh, or
	 * { lagMs, beyondBound } when it is stale (and counts it).
	 */
	check(products, startedAt, isolate = "a") {
		this.checkedReads++;
		let lagMs = -1;
		let beyondBound = false;
		for (const product of products) {
			const perIsolate = this.#writes.get(product.id);
			if (!perIsolate) continue;
			for (const [writer, log] of perIsolate) {
				const n = log.countBefore(startedAt);
				if (n === 0 || !(product.updatedAt < log.newest[n - 1])) continue;
				const firstAt = log.firstNewerThan(product.updatedAt, n);
				lagMs = Math.max(lagMs, startedAt - firstAt);
				const cutoff = writer === isolate ? startedAt : startedAt - this.boundMs;
				const required = log.newestBefore(cutoff);
				if (required !== undefined && product.updatedAt < required) beyondBound = true;
			}
		}
		if (lagMs < 0) return undefined;
		this.staleReads++;
		if (beyondBound) this.staleBeyondBound++;
		this.byIsolate[isolate] = (this.byIsolate[isolate] ?? 0) + 1;
		this.maxLagMs[isolate] = Math.max(this.maxLagMs[isolate] ?? 0, lagMs);
		return { lagMs, beyondBound };
	}

	/** The counts since `before` (an earlier `counts()`), for one phase of a run. */
	counts(before) {
		const now = {
			staleReads: this.staleReads,
			staleBeyondBound: this.staleBeyondBound,
			checkedReads: this.checkedReads,
			writes: this.writes,
			byIsolate: { ...this.byIsolate },
		};
		if (!before) return now;
		const byIsolate = {};
		for (const [isolate, n] of Object.entries(now.byIsolate)) {
			const d = n - (before.byIsolate[isolate] ?? 0);
			if (d > 0) byIsolate[isolate] = d;
		}
		return {
			staleReads: now.staleReads - before.staleReads,
			staleBeyondBound: now.staleBeyondBound - before.staleBeyondBound,
			checkedReads: now.checkedReads - before.checkedReads,
			writes: now.writes - before.writes,
			byIsolate,
		};
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
