// removeIfStill, how the kit's file locks (a session lock's takeover marker, the directory locks,
// PostgresSink recovery markers and claims) remove a lock judged stale: never a file another
// process made or holds now. Found by the operator pass, 2026-12-05: a lock that was no longer
// the one judged was renamed aside and then renamed back, and a lock another process created
// under the name meanwhile (the name was free) was replaced by the put-back: both processes held
// the lock. Two real processes race here: this one removing, a child creating.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeIfStill } from "../../src/sink/lock.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";

afterEach(cleanupTmp);

/** A child that creates `file` exclusively (`wx`) as soon as the name is free, for up to `ms`; prints "created" or "never". */
function creator(file: string, ms: number) {
  const src = `const fs=require("fs");const end=Date.now()+${ms};process.stdout.write("ready\\n");for(;;){try{fs.writeFileSync(${JSON.stringify(file)},"newcomer",{flag:"wx"});console.log("created");break}catch(e){if(e.code!=="EEXIST")throw e;if(Date.now()>end){console.log("never");break}}}`;
  const child = spawn(process.execPath, ["-e", src], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8");
  const ready = new Promise<void>((r) => child.stdout.on("data", (c: string) => ((out += c), out.includes("ready") && r())));
  const done = new Promise<string>((r) => child.on("close", () => r(out.replace("ready\n", "").trim())));
  return { ready, done };
}

describe("removeIfStill", () => {
  it("leaves alone a lock that is not the one judged stale: it is never moved, so a process creating the lock meanwhile never finds the name free", async () => {
    const dir = tmpProject("audit-remove-if-still-");
    const file = path.join(dir, ".session_s.lock.takeover");
    // a live holder's file, made after another process had judged an older one stale
    fs.writeFileSync(file, "live holder");
    const c = creator(file, 4_000);
    await c.ready;
    const end = Date.now() + 3_000;
    let calls = 0;
    while (Date.now() < end) {
      removeIfStill(file, "the stale one judged", `${file}.stale.${process.pid}`);
      calls++;
    }
    const said = await c.done;
    // the child created the lock only if the name was free, and then the lock must be its own:
    // it was replaced by the put-back of the one set aside, both processes holding it
    expect({ said, content: fs.readFileSync(file, "utf8") }).toEqual({ said: "never", content: "live holder" });
    expect(calls).toBeGreaterThan(100);
    expect(fs.readdirSync(dir)).toEqual([path.basename(file)]);
  });
});
