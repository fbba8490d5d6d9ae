import type { CatalogCache, CatalogPolicies } from "../cache";

/** What the catalog's routers need: the cache engine and the route policies. */
export interface CatalogDeps {
	cache: CatalogCache;
	policies: CatalogPolicies;
}
