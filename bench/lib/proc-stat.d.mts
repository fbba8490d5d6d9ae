export function parseProcStat(stat: string): { ppid: number; utimeTicks: number; stimeTicks: number };
export function cpuMicros(stat: string, ticksPerSecond?: number): number;
