export const PLACEHOLDERS: { d1: string; kv: string };
export interface SetupStep {
	what: string;
	args: string[];
	id?: "d1" | "kv";
	parse?: (out: string) => string | null;
}
export function setupPlan(options?: { database?: string; queue?: string; deadLetterQueue?: string }): SetupStep[];
export function applyIds(toml: string, ids: Partial<Record<"d1" | "kv", string>>): string;
export function secretSteps(randomBase64: (bytes: number) => string): string[];
