export function clockWaitMs(serverTiming: string | null | undefined): number | undefined;
