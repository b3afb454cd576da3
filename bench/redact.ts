/**
 * Redaction throughput: `npx tsx bench/redact.ts` (add `--json` for JSON, `--seconds N` per case).
 *
 * Cases, each about 1 KB: a chat message with nothing to redact (the common case, where the cheap
 * prefilters should skip almost every regex), the same message carrying secrets and personal
 * data, a log-like text full of numbers, ids and timestamps that wake the number detectors but
 * contain nothing to redact, hmac replacement, and a structured tool-call value through
 * redactValue with key paths. Each case runs in rounds of ~0.2 s; the median round is reported
 * in MB/s of input text (for the value case: of its JSON) and µs per call, next to SHA-256 over
 * the same 1 KB as a reference for how fast this machine is right now.
 */
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { Redactor, type RedactionCounts } from "../src/pipeline/redact.js";

const { values: args } = parseArgs({ options: { json: { type: "boolean" }, seconds: { type: "string", default: "2" } } });
const SECONDS = Number(args.seconds);

function fit(text: string, size = 1024): string {
  let t = text;
  while (t.length < size) t += " " + text;
  return t.slice(0, size);
}

const CLEAN = fit(
  "Thanks for the summary! A few follow-ups before Thursday's review: could you compare the Q3 numbers " +
    "with last year's (revenue grew 12.5% to $4.2M, churn fell from 3.1% to 2.4%) and explain why the " +
    "onboarding funnel dropped between steps 2 and 3? Also, the dashboard at https://example.com/reports/q3?tab=funnel " +
    "still shows version 2.14.0 of the model; we rolled out 2.15.1 on 2024-09-12. Please draft three options " +
    "for the pricing page, keep each under 120 words, and list any risks you see. If the data is incomplete, " +
    "say which tables are missing rather than guessing. Finally, suggest a title for the board deck and a " +
    "one-paragraph executive summary written for a non-technical audience. ",
);

const SECRETS = fit(
  "Hi, I'm Alice (alice.smith@example.com, +1 415-555-2671). My card 4111 1111 1111 1111 was charged twice " +
    "for order ORD-2024-000123. Our integration uses OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh " +
    "and the webhook posts to https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX. Refunds go to " +
    "IBAN DE89 3704 0044 0532 0130 00. The support agent asked for my SSN 123-45-6789, is that normal? Our server " +
    "sends Authorization: Bearer a9f8e7d6c5b4a3f2e1d0c9b8 and AWS key AKIAIOSFODNN7EXAMPLE. Please help me " +
    "understand the duplicate charge and whether my data is safe. Thanks a lot for looking into this quickly! ",
);

const NUMBERS = fit(
  "2024-09-12T10:31:02.114Z INFO req=550e8400-e29b-41d4-a716-446655440000 ip=192.168.10.254 status=200 dur=132ms " +
    "order=ORD-2024-000123 amount=1299.99 v=2.15.1 sha=3f786850e387550fdab836ed7e6dc881de23001b ts=1726137062114 " +
    "2024-09-12T10:31:02.245Z WARN req=6e8bc430-9c3a-11d9-9669-0800200c9a66 ip=10.0.0.17 status=429 retry=3 ",
);

const VALUE = {
  toolName: "crm.updateContact",
  parameters: {
    contactId: "c_01J8ZK3W5Q",
    apiKey: "k-live-123456",
    headers: { authorization: "Basic dXNlcjpwYXNz", accept: "application/json" },
    changes: { email: "bob@example.com", phone: "+44 20 7946 0958", notes: CLEAN.slice(0, 400) },
    tags: ["vip", "renewal-2025", "region-emea"],
    history: [{ at: "2024-09-01T10:00:00Z", by: "agent-7", note: "called back" }],
  },
};

interface Result {
  name: string;
  bytes: number;
  usPerCall: number;
  mbPerSec: number;
  redactions: number;
}

function measure(name: string, bytes: number, call: (counts: RedactionCounts) => unknown): Result {
  // warm up, and count what one call redacts
  const once: RedactionCounts = {};
  call(once);
  for (let i = 0; i < 2000; i++) call({});
  const rounds: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  while (performance.now() < deadline || rounds.length < 5) {
    let n = 0;
    const t0 = performance.now();
    let t1 = t0;
    while (t1 - t0 < 200) {
      for (let i = 0; i < 200; i++) call({});
      n += 200;
      t1 = performance.now();
    }
    rounds.push((t1 - t0) / n);
  }
  rounds.sort((a, b) => a - b);
  const msPerCall = rounds[Math.floor(rounds.length / 2)]!;
  return {
    name,
    bytes,
    usPerCall: msPerCall * 1000,
    mbPerSec: bytes / (msPerCall / 1000) / 1e6,
    redactions: Object.values(once).reduce((a, b) => a + b, 0),
  };
}

const placeholder = new Redactor({ paths: ["parameters.apiKey", "headers.authorization"] });
const hmac = new Redactor({ replacement: "hmac", hmacKey: Buffer.alloc(32, 1), paths: ["parameters.apiKey", "headers.authorization"] });

// reference on the same machine in the same run: SHA-256 over the same 1 KB (the chain hashes every record)
const sha = measure("reference: sha256 over 1 KB", CLEAN.length, () => createHash("sha256").update(CLEAN).digest());

const results = [
  sha,
  measure("chat 1 KB, nothing to redact", CLEAN.length, (c) => placeholder.redactText(CLEAN, c)),
  measure("chat 1 KB, 15 secrets (placeholder)", SECRETS.length, (c) => placeholder.redactText(SECRETS, c)),
  measure("chat 1 KB, 15 secrets (hmac)", SECRETS.length, (c) => hmac.redactText(SECRETS, c)),
  measure("log 1 KB, numbers/ids/timestamps, nothing to redact", NUMBERS.length, (c) => placeholder.redactText(NUMBERS, c)),
  measure("tool-call value via redactValue (paths + text)", JSON.stringify(VALUE).length, (c) => placeholder.redactValue(VALUE.parameters, c, "parameters")),
];

if (args.json) {
  console.log(JSON.stringify({ node: process.version, results }, null, 2));
} else {
  console.log(`redaction throughput (node ${process.version}, median of rounds)\n`);
  for (const r of results) {
    console.log(`${r.name.padEnd(52)} ${r.mbPerSec.toFixed(1).padStart(7)} MB/s ${r.usPerCall.toFixed(2).padStart(8)} µs/call  (${r.bytes} B, ${r.redactions} redactions)`);
  }
}
