export function renderTable(results: unknown): string;
export function renderSvg(results: unknown): string;
