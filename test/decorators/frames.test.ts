/**
 * What a decorated method adds to an error's stack: with V8's default limit of 10 frames, an
 * error thrown three decorated levels deep must keep the app's frame that made the call (each
 * level added 4 frames of the kit's, and pushed it out). Both decorator modes, compiled by tsc
 * and run in a process of their own (the test runner raises the limit).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { compileFixtures, runNode, type Build, type DecoratorMode } from "./compile.js";

interface Frames {
  limit: number;
  plain: string[];
  tools: string[];
  guarded: string[];
}

const builds: Build[] = [];
const outcomes = new Map<DecoratorMode, Frames>();

beforeAll(async () => {
  for (const mode of ["standard", "legacy"] as const) {
    const build = await compileFixtures(mode, ["frames.ts"]);
    builds.push(build);
    const { stdout } = await runNode(build.js("frames"), [tmpProject(`audit-deco-frames-${mode}-`), mode]);
    outcomes.set(mode, JSON.parse(stdout) as Frames);
  }
}, 180_000);

afterAll(() => {
  for (const b of builds) b.cleanup();
  cleanupTmp();
});

describe.each(["standard", "legacy"] as const)("stack frames of decorated calls (%s)", (mode) => {
  it("an error three decorated levels deep keeps the app's calling frame within the default 10", () => {
    const { limit, plain, tools, guarded } = outcomes.get(mode)!;
    expect(limit).toBe(10);
    expect(plain.slice(0, 4)).toEqual(["Plain.c", "Plain.b", "Plain.a", "appEntry"]);
    // per level: the method, the context entered for it, the decorator's wrapper (named as the method)
    expect(tools).toEqual(["Tools.c", "AsyncLocalStorage.run", "Tools.c", "Tools.b", "AsyncLocalStorage.run", "Tools.b", "Tools.a", "AsyncLocalStorage.run", "Tools.a", "appEntry"]);
    // (@AuditErrors enters no context: the method and the wrapper)
    expect(guarded.slice(0, 7)).toEqual(["Guarded.c", "Guarded.c", "Guarded.b", "Guarded.b", "Guarded.a", "Guarded.a", "appEntry"]);
  });
});
