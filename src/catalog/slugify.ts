/** A URL slug: lowercase ASCII letters and digits joined by single dashes. */
export function slugify(text: string, maxLength = 100): string {
	return text
		.normalize("NFKD")
		.replace(/[\u0300-\u036f]/g, "")
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, "-")
		.slice(0, maxLength)
		.replace(/^-+|-+$/g, "");
}
