import type { CachePolicy } from "./policy.js";

/** A URL the app answered from memory: what the front door needs to answer it again without the app. */
export interface FrontRoute {
	key: string;
	/** The request's path and query, for hot keys (re-warm). */
	path: string;
	/** The route's policy, before per-environment overrides. */
	policy: CachePolicy;
	/** The key version it was answered under. */
	version: string;
	/** The route's pattern as the router matched it (e.g. `/v1/things/:id`), for the app's logs. */
	route: string;
}

/** What `decorate` learns of an answer the front door gave. */
export interface FrontHit<Bindings> {
	request: Request;
	env: Bindings;
	/** The route's pattern as the router matched it when the app answered this URL. */
	route: string;
}

export interface FrontOptions<Bindings> {
	/**
	 * Adds to an answer of the front door what the app's middleware adds to
	 * every answer (a request id, security headers, a log line): the front
	 * door answers before any of it runs. Called with the response, whose
	 * headers may be changed.
	 */
	decorate?: (response: Response, hit: FrontHit<Bindings>) => void;
	/**
	 * Requests the front door must leave to the app (true): those that
	 * middleware or a handler may refuse for a reason the engine cannot see
	 * (an API key in a header or the query, an IP rule, a rate limit).
	 * Requests with `Authorization` or `Cookie` always go to the app.
	 */
	bypass?: (request: Request) => boolean;
	/** How many URLs per isolate it remembers; the least recently used make room. Default 10,000. */
	maxUrls?: number;
}

/** A Worker's fetch handler. */
export type FetchHandler<Bindings> = (
	request: Request,
	env: Bindings,
	ctx: ExecutionContext,
) => Response | Promise<Response>;

/** The path and query of a request URL (`/v1/things/1?page=2`): the same for every host. */
export function pathAndQuery(url: string): string {
	const start = url.indexOf("/", url.indexOf("//") + 2);
	return start < 0 ? "/" : url.slice(start);
}

/** The URLs the front door may answer, at most `max` of them: the least recently used make room. */
export class FrontRoutes {
	readonly #routes = new Map<string, FrontRoute>();
	readonly max: number;

	constructor(max: number) {
		if (!Number.isInteger(max) || max < 1) {
			throw new TypeError(`tiercache: front maxUrls must be a positive integer, got ${String(max)}`);
		}
		this.max = max;
	}

	get(target: string): FrontRoute | undefined {
		return this.#routes.get(target);
	}

	/** A URL the front door answered: the most recently used now. */
	used(target: string, route: FrontRoute): void {
		this.#routes.delete(target);
		this.#routes.set(target, route);
	}

	/**
	 * Remembers how the app answered `target` from memory; a URL it knows
	 * already under the same key, policy and version costs no more (hits call
	 * this on every answer, `route` only when it is new).
	 */
	remember(target: string, key: string, path: string, policy: CachePolicy, version: string, route: () => string): void {
		const known = this.#routes.get(target);
		if (known?.key === key && known.policy === policy && known.version === version) return;
		this.#routes.delete(target);
		if (this.#routes.size >= this.max) {
			const oldest = this.#routes.keys().next();
			if (!oldest.done) this.#routes.delete(oldest.value);
		}
		this.#routes.set(target, { key, path, policy, version, route: route() });
	}
}
