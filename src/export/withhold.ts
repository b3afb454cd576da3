/**
 * Content withholding for exports made without `includeFullContent`: the fields that carry
 * prompt, response, tool-call, parameter or result text (encrypted or not) are replaced by a
 * marker, and the record lists them in `contentWithheld`. Lengths (`promptLength`,
 * `parametersLength`, …) stay.
 */
import type { RecordType } from "../types.js";

/**
 * What replaces a withheld value.
 *
 * @example
 * if (record.promptPreview === WITHHELD_MARKER) console.log("exported without content");
 */
export const WITHHELD_MARKER = "[content withheld from export]";

/**
 * The fields that carry content, per kind.
 *
 * @example
 * CONTENT_FIELDS.tool_usage // ["parameters", "result"]
 */
export const CONTENT_FIELDS: Readonly<Partial<Record<RecordType, readonly string[]>>> = Object.freeze({
  chat_interaction: ["promptPreview", "responsePreview", "toolCalls"],
  tool_usage: ["parameters", "result"],
});

/** Content hash fields, withheld when they are plain SHA-256 (an HMAC one, of encrypted logs, stays). */
const HASH_FIELDS = ["promptHash", "responseHash"] as const;

/**
 * A copy of `rec` without its content fields (the same object when it has none). A chat record
 * of a log that is not encrypted also loses its plain `sha256:` content hashes and the digests
 * of its content files (which an export without content does not hold): with them anyone could
 * confirm a guessed prompt (found by review, 2026-12-04).
 */
export function withholdContent<T extends object>(rec: T): T {
  const r = rec as Record<string, unknown>;
  const fields = CONTENT_FIELDS[r.type as RecordType];
  if (!fields) return rec;
  const withheld = fields.filter((f) => r[f] !== undefined);
  if (r.type === "chat_interaction") {
    for (const f of HASH_FIELDS) if (typeof r[f] === "string" && (r[f] as string).startsWith("sha256:")) withheld.push(f);
    // (an encrypted log's content files are ciphertext: their digests tell nothing)
    const encrypted = (Array.isArray(r.encrypted) && r.encrypted.length > 0) || HASH_FIELDS.some((f) => typeof r[f] === "string" && (r[f] as string).startsWith("hmac-"));
    if (!encrypted && digestsOf(r.fullContent)) withheld.push("fullContent");
  }
  if (withheld.length === 0) return rec;
  const out: Record<string, unknown> = { ...r };
  for (const f of withheld) out[f] = f === "fullContent" ? withoutDigests(r.fullContent as Record<string, unknown>) : WITHHELD_MARKER;
  out.contentWithheld = withheld;
  return out as T;
}

/** The chains whose records can have content withheld (the others never lose their hashes). */
const CONTENT_KINDS: readonly RecordType[] = Object.keys(CONTENT_FIELDS) as RecordType[];

/** Members left out (absent, not replaced by the marker) of a record whose chain hashes are withheld. */
const CHAIN_HASH_FIELDS = ["prevHash", "hash"] as const;

/**
 * Withholds content from the records of one export pass, and the chain hashes that would give it
 * away. A record's `hash` is SHA-256 over `prevHash` and the line as written, every other member
 * of which the export holds: for content withheld in plaintext (a log that is not encrypted),
 * anyone could hash guesses until one matched (a 4-digit PIN in tool parameters: 0.5 s; found by
 * review, 2026-12-05). So from the first record of a chain whose withheld content is not
 * encrypted in the record, that record and every later one of the chain lose `hash` and
 * `prevHash` (each later hash is computed from it, so each would confirm the same guess), and
 * list them in `contentWithheld`. Content encrypted in the record leaves its hash as it is: the
 * hash is over ciphertext, which no guess reproduces. Feed the records in chain order.
 *
 * @example
 * const w = new ExportWithholder();
 * for await (const rec of viewer.iterate("tool_usage")) write(w.record(rec));
 */
export class ExportWithholder {
  /** session and kind of every chain whose hashes are withheld from some record on */
  private readonly unhashed = new Set<string>();

  /** `rec` as the export writes it (the same object when nothing is withheld). */
  record<T extends object>(rec: T): T {
    const out = withholdContent(rec) as Record<string, unknown>;
    const key = `${String(out.sessionId)}\0${String(out.type)}`;
    if (!this.unhashed.has(key)) {
      const withheld = Array.isArray(out.contentWithheld) ? (out.contentWithheld as string[]) : [];
      const encrypted = Array.isArray(out.encrypted) ? (out.encrypted as unknown[]) : [];
      if (!withheld.some((f) => !encrypted.includes(f))) return out as T;
      this.unhashed.add(key);
    }
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(out)) if (k !== "prevHash" && k !== "hash" && k !== "contentWithheld") copy[k] = v;
    const listed = Array.isArray(out.contentWithheld) ? (out.contentWithheld as string[]) : [];
    copy.contentWithheld = [...listed, ...CHAIN_HASH_FIELDS.filter((f) => out[f] !== undefined)];
    return copy as T;
  }

  /** Whether any chain's hashes were withheld so far (no Set made: asked after each record). */
  get withheldAny(): boolean {
    return this.unhashed.size > 0;
  }

  /** Sessions some of whose chain hashes were withheld so far. */
  sessionsWithoutHashes(): Set<string> {
    return new Set([...this.unhashed].map((k) => k.slice(0, k.lastIndexOf("\0"))));
  }
}

/**
 * A session summary as an export without content gives it: the chain heads of the kinds that
 * carry content without their `hash` (the head hash is computed from every record of the chain,
 * withheld content included, so it would confirm a guess of it as the record's own hash would).
 */
export function withholdHeadHashes<T extends object>(summary: T): T {
  const s = summary as Record<string, unknown>;
  const heads = s.heads;
  if (typeof heads !== "object" || heads === null) return summary;
  const out: Record<string, unknown> = { ...(heads as Record<string, unknown>) };
  for (const kind of CONTENT_KINDS) {
    const h = out[kind];
    if (typeof h === "object" && h !== null && "hash" in h) {
      const { hash: _hash, ...rest } = h as Record<string, unknown>;
      out[kind] = rest;
    }
  }
  return { ...s, heads: out } as T;
}

/** Whether a `fullContent` member names content files with their digests. */
function digestsOf(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  return Object.values(v).some((e) => typeof e === "object" && e !== null && "sha256" in e);
}

/** `fullContent` with each file's digest replaced by the marker (names and sizes stay). */
function withoutDigests(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, e] of Object.entries(v)) out[k] = typeof e === "object" && e !== null && "sha256" in e ? { ...e, sha256: WITHHELD_MARKER } : e;
  return out;
}

/**
 * A record as an export of one user or a time range gives it (`userId`, `since`, `until`): without
 * `prevHash`, the hash of the record before it in its chain, which is as a rule another user's
 * record (or one outside the range) and is not in the export. The record's own `hash` stays (where
 * the content rules above keep it): with its `sessionId`, `type` and `seq` it names the line of the
 * original logs that `audit-logger verify` checks. See TRUST.md, "Exports of one user".
 */
export function withoutChainLink<T extends object>(rec: T): T {
  const r = rec as Record<string, unknown>;
  if (!("prevHash" in r)) return rec;
  const { prevHash: _p, ...rest } = r;
  return rest as T;
}

/** The members of a session summary an export of one user or a time range keeps: the session's own, none about the other users' activity. */
export const FILTERED_SUMMARY_FIELDS = ["sessionId", "startTime", "endTime"] as const;

/**
 * A session summary as an export of one user or a time range gives it: its id, start and end.
 * The rest (counts, tokens, models, personas, success rates, custom metadata, chain heads)
 * describes the whole session, every user's records in it.
 */
export function filteredSummary<T extends object>(summary: T): Partial<T> {
  const s = summary as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of FILTERED_SUMMARY_FIELDS) if (k in s) out[k] = s[k];
  return out as Partial<T>;
}
