import { listKindFiles } from "../sink/files.js";
import { readLines } from "../reader/lines.js";
import { GENESIS_HASH } from "../pipeline/chain.js";
import { CHAIN_KINDS, RECORD_KINDS, type ChainKind, type KindHead, type RecordType, type SessionSummary } from "../types.js";

function zeroCounts(): Record<RecordType, number> {
  return { chat_interaction: 0, persona_activity: 0, tool_usage: 0, file_operation: 0, performance_metric: 0, error: 0 };
}

/**
 * An empty object to key by names from records (models, personas, tools): without a prototype, so
 * that a name such as "constructor" or "__proto__" is a key like any other (on `{}` it found
 * Object's members: the summary counted `"constructor": "function Object() {…}1"` and the report's
 * cost became NaN; found by review, 2026-12-04).
 */
export function dict<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/** Running totals for the session summary, updated on every record (a few additions each). */
export class SessionStats {
  counts = zeroCounts();
  tokens = { total: 0, input: 0, output: 0, callsWithoutTokenSplit: 0, callsWithoutTokens: 0 };
  models = dict<number>();
  personas = dict<number>();
  chatOk = 0;
  toolOk = 0;
  errorsBySeverity = dict<number>();
  heads = {} as Record<ChainKind, KindHead>;

  constructor() {
    for (const k of CHAIN_KINDS) this.heads[k] = { seq: 0, hash: GENESIS_HASH };
  }

  head(kind: ChainKind, seq: number, hash: string): void {
    this.heads[kind] = { seq, hash };
  }

  count(kind: RecordType): void {
    this.counts[kind]++;
  }

  /** One chat interaction; a count it did not give is undefined. */
  chat(model: string, persona: string | undefined, total: number | undefined, input: number | undefined, output: number | undefined, success: boolean): void {
    this.counts.chat_interaction++;
    this.tokens.total += total ?? 0;
    this.tokens.input += input ?? 0;
    this.tokens.output += output ?? 0;
    // (the analytics report's rules: AnalyticsAccumulator)
    if (input === undefined && output === undefined) {
      if ((total ?? 0) > 0) this.tokens.callsWithoutTokenSplit++;
      else if (success && total === undefined) this.tokens.callsWithoutTokens++;
    }
    bump(this.models, model);
    if (persona !== undefined) bump(this.personas, persona);
    if (success) this.chatOk++;
  }

  persona(name: string): void {
    this.counts.persona_activity++;
    bump(this.personas, name);
  }

  tool(success: boolean): void {
    this.counts.tool_usage++;
    if (success) this.toolOk++;
  }

  error(severity: string): void {
    this.counts.error++;
    bump(this.errorsBySeverity, severity);
  }

  /** Adds one parsed record (used when reading back a resumed session's earlier part). */
  addRecord(r: Record<string, unknown>): void {
    switch (r.type) {
      case "chat_interaction":
        this.chat(
          String(r.model ?? "unknown"),
          typeof r.persona === "string" ? r.persona : undefined,
          r.tokensUsed === undefined ? undefined : Number(r.tokensUsed),
          r.inputTokens === undefined ? undefined : Number(r.inputTokens),
          r.outputTokens === undefined ? undefined : Number(r.outputTokens),
          r.success !== false,
        );
        break;
      case "persona_activity":
        this.persona(String(r.personaName));
        break;
      case "tool_usage":
        this.tool(r.success !== false);
        break;
      case "error":
        this.error(String(r.severity ?? "error"));
        break;
      case "file_operation":
      case "performance_metric":
        this.count(r.type);
        break;
    }
  }

  /** Totals of the records with seq ≤ `upTo[kind]` in the files (the part written before a restart). */
  static async fromFiles(auditDir: string, sessionId: string, upTo: Partial<Record<ChainKind, number>>): Promise<SessionStats> {
    const s = new SessionStats();
    for (const kind of CHAIN_KINDS) {
      const limit = upTo[kind];
      if (!limit) continue;
      outer: for (const f of listKindFiles(auditDir, kind, sessionId)) {
        for await (const line of readLines(f.path)) {
          if (!line.terminated) continue;
          let rec: Record<string, unknown>;
          try {
            rec = JSON.parse(line.text) as Record<string, unknown>;
          } catch {
            continue;
          }
          if (typeof rec.seq !== "number" || rec.seq > limit) break outer;
          s.addRecord(rec);
          if (typeof rec.hash === "string") s.head(kind, rec.seq, rec.hash);
        }
      }
    }
    return s;
  }

  summary(o: {
    sessionId: string;
    startTime: string;
    endTime: string;
    customMetadata: Readonly<Record<string, unknown>>;
    prior: SessionStats | undefined;
  }): SessionSummary {
    const p = o.prior;
    const counts = zeroCounts();
    for (const k of RECORD_KINDS) counts[k] = this.counts[k] + (p?.counts[k] ?? 0);
    const merge = (a: Record<string, number>, b: Record<string, number> | undefined) => {
      const out = { ...a };
      for (const [k, v] of Object.entries(b ?? {})) bump(out, k, v);
      return out;
    };
    const chatOk = this.chatOk + (p?.chatOk ?? 0);
    const toolOk = this.toolOk + (p?.toolOk ?? 0);
    const heads = { ...this.heads };
    if (p) for (const k of CHAIN_KINDS) if (heads[k].seq === 0) heads[k] = p.heads[k];
    const start = Date.parse(o.startTime);
    const end = Date.parse(o.endTime);
    return {
      sessionId: o.sessionId,
      startTime: o.startTime,
      endTime: o.endTime,
      durationSeconds: Math.max(0, (end - start) / 1000),
      counts,
      totalRecords: RECORD_KINDS.reduce((n, k) => n + counts[k], 0),
      tokens: merge(this.tokens, p?.tokens) as SessionSummary["tokens"],
      models: merge(this.models, p?.models),
      personas: merge(this.personas, p?.personas),
      chatSuccessRate: counts.chat_interaction ? chatOk / counts.chat_interaction : null,
      toolCalls: counts.tool_usage,
      toolSuccessRate: counts.tool_usage ? toolOk / counts.tool_usage : null,
      errorsBySeverity: merge(this.errorsBySeverity, p?.errorsBySeverity),
      heads,
      customMetadata: o.customMetadata,
    };
  }
}
