import type { z } from "zod";
import type { FieldIssue } from "../errors.js";

/** Turns zod issues into `{ field, message }` pairs, one per bad field (unknown keys each get one). */
export function toFieldIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ field: base ? `${base}.${key}` : key, message: "unknown option; check its spelling against the documented names" });
      }
      continue;
    }
    out.push({ field: base || "(input)", message: issue.message });
  }
  return out;
}
