import type { z } from "zod";
import type { FieldIssue } from "../errors.js";
import { nearestName } from "../nearest-name.js";


/**
 * Turns zod issues into `{ field, message }` pairs, one per bad field (unknown keys each get one).
 * Given the `schema` that was parsed, an unknown key's message names the documented one it most
 * likely misspells (`sesionId`: `did you mean "sessionId"?`; until 2026-12-06 it only said to
 * check the spelling: new-user pass). `noun` is what the unknown key is called: an "option" of a
 * call's options, a "field" of a log call's input (until 2026-12-06 those were called options too), a "key" of a
 * file's table (`report --prices`).
 *
 * @example
 * toFieldIssues(schema.safeParse(input).error!, "wrapOpenAI", schema);
 * // [{ field: "wrapOpenAI.loger", message: 'unknown option; did you mean "logger"?' }]
 */
export function toFieldIssues(error: z.ZodError, prefix = "", schema?: z.ZodType, noun: "option" | "field" | "key" = "option"): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    if (issue.code === "unrecognized_keys") {
      const known = schema === undefined ? [] : keysAt(schema, issue.path);
      for (const key of issue.keys) {
        const near = nearestName(key, known);
        out.push({ field: base ? `${base}.${key}` : key, message: `unknown ${noun}; ${near === undefined ? "check its spelling against the documented names" : `did you mean "${near}"?`}` });
      }
      continue;
    }
    out.push({ field: base || "(input)", message: issue.message });
  }
  return out;
}

/** What zod keeps of a schema: its kind and the parts it is made of. */
interface Def {
  readonly type?: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly out?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly left?: z.ZodType;
  readonly right?: z.ZodType;
  readonly element?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly getter?: () => z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return ((schema as unknown as { _zod?: { def?: Def } })._zod?.def ?? {}) as Def;
}

/** The schemas a value may be parsed by under `schema`: through optional, default, pipe, union, … (bounded, for recursive schemas). */
function variants(schema: z.ZodType, depth = 0): z.ZodType[] {
  if (depth > 8) return [];
  const d = defOf(schema);
  const inner = [d.innerType, d.in, d.left, d.right, ...(d.options ?? []), ...(d.type === "lazy" && d.getter ? [d.getter()] : [])].filter((s): s is z.ZodType => s !== undefined);
  return inner.length === 0 ? [schema] : [schema, ...inner.flatMap((s) => variants(s, depth + 1))];
}

/** The documented member names of the object at `path` under `schema` (every variant's). */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let here = [schema];
  for (const seg of path) {
    here = here.flatMap((s) => variants(s)).flatMap((s) => {
      const d = defOf(s);
      if (d.shape !== undefined) return typeof seg === "string" && Object.hasOwn(d.shape, seg) ? [d.shape[seg]!] : [];
      if (d.element !== undefined) return [d.element];
      if (d.valueType !== undefined) return [d.valueType];
      return [];
    });
  }
  return [...new Set(here.flatMap((s) => variants(s)).flatMap((s) => Object.keys(defOf(s).shape ?? {})))];
}
