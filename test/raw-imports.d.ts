/** Vite's `?raw` imports: a file's text (tests compare shipped files with their sources). */
declare module "*?raw" {
	const text: string;
	export default text;
}
