import { definePolicy } from "tiercache";
import { describe, expect, it } from "vitest";

// scripts/test-example.mjs installs the packed tarball into
// examples/notes/node_modules; vitest.config.ts refuses any other resolution
// of `tiercache`. This checks the code that runs is that copy.
describe("the engine under test", () => {
	it("is the tarball installed in examples/notes/node_modules, not the workspace package", () => {
		let stack = "";
		try {
			definePolicy({ name: "Not A Valid Name" });
		} catch (err) {
			stack = (err as Error).stack ?? "";
		}
		const frame = stack.split("\n").find((line) => line.includes("definePolicy"));
		expect(frame).toMatch(/\/examples\/notes\/node_modules\/tiercache\//);
		expect(stack).not.toMatch(/\/packages\/tiercache\//);
	});
});
