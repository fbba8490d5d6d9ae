export interface PageRequest {
	page: number;
	limit: number;
}

export interface Page<T> {
	items: T[];
	page: number;
	limit: number;
	/** The next page number, or null on the last page. */
	next: number | null;
}

/** Rows to ask for: one more than the page, to know whether a next page exists. */
export function pageWindow({ page, limit }: PageRequest): { limit: number; offset: number } {
	return { limit: limit + 1, offset: (page - 1) * limit };
}

export function toPage<T>(rows: T[], { page, limit }: PageRequest): Page<T> {
	const hasNext = rows.length > limit;
	return { items: hasNext ? rows.slice(0, limit) : rows, page, limit, next: hasNext ? page + 1 : null };
}
