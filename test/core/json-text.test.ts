import { afterEach, describe, expect, it } from "vitest";
import { AuditLogger } from "../../src/index.js";
import { JsonText, jsonArrayMember, jsonMember, jsonMembers } from "../../src/record/json-text.js";
import { readKind } from "../helpers/core.js";
import { cleanupTmp, tmpProject } from "../helpers/index.js";
import { rng } from "../reader/fixture.js";

afterEach(cleanupTmp);

// strings that a scan for quotes and brackets could trip over
const TRICKY = ['"', "\\", '\\"', '\\\\"', "[", "]", "{", "}", "messages", '"messages":[', ",", ":", "\n", "\u0000", "\ud83d\ude00", "\ud800", "é", " ", ""];

function value(next: () => number, depth: number): unknown {
  const r = next();
  if (depth > 3 || r < 0.35) {
    const k = Math.floor(next() * 6);
    if (k === 0) return Math.floor(next() * 1e6) / (next() < 0.5 ? 1 : 1000);
    if (k === 1) return next() < 0.5;
    if (k === 2) return null;
    return Array.from({ length: Math.floor(next() * 4) }, () => TRICKY[Math.floor(next() * TRICKY.length)]).join("");
  }
  if (r < 0.65) return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 4); i > 0; i--) o[TRICKY[Math.floor(next() * TRICKY.length)]! + String(i)] = value(next, depth + 1);
  return o;
}

describe("jsonMember: a top-level member of a JSON object's text, verbatim, whatever its value", () => {
  it("is the member's value as JSON.stringify writes it (strings, numbers, literals, objects, arrays), over generated bodies", () => {
    const next = rng(11);
    let found = 0;
    for (let n = 0; n < 3000; n++) {
      const body: Record<string, unknown> = {};
      if (next() < 0.7) body.model = value(next, 2);
      if (next() < 0.3) body['system"'] = value(next, 1);
      if (next() < 0.5) body.nested = { system: value(next, 1) };
      if (next() < 0.85) body.system = value(next, next() < 0.5 ? 4 : 0);
      if (next() < 0.7) body.messages = value(next, 1);
      const json = JSON.stringify(body);
      const expected = "system" in body ? JSON.stringify(body.system) : undefined;
      expect(jsonMember(json, "system"), json).toBe(expected);
      const spaced = jsonMember(JSON.stringify(body, null, 2), "system");
      expect(spaced === undefined ? undefined : JSON.parse(spaced), json).toEqual(body.system);
      if (expected !== undefined) found++;
      // both members in one pass, whichever comes first
      expect(jsonMembers(json, ["messages", "system"]), json).toEqual(["messages" in body ? JSON.stringify(body.messages) : undefined, expected]);
    }
    expect(found).toBeGreaterThan(2000);
  });
});

describe("jsonArrayMember: a top-level array member of a JSON object's text, verbatim", () => {
  it("is the member as JSON.stringify writes it, over generated bodies with quotes, backslashes and brackets in keys and strings", () => {
    const next = rng(7);
    let found = 0;
    for (let n = 0; n < 3000; n++) {
      const body: Record<string, unknown> = {};
      // members before and after, some named like it inside strings or nested objects
      if (next() < 0.7) body.model = value(next, 2);
      if (next() < 0.3) body['messages"'] = value(next, 1);
      if (next() < 0.3) body["messages\\"] = value(next, 1);
      if (next() < 0.5) body.nested = { messages: value(next, 1) };
      const messages = next() < 0.85 ? (value(next, 0) as unknown) : undefined;
      if (messages !== undefined) body.messages = messages;
      if (next() < 0.7) body.tools = value(next, 1);
      const json = JSON.stringify(body);
      const expected = Array.isArray(body.messages) ? JSON.stringify(body.messages) : undefined;
      expect(jsonArrayMember(json, "messages"), json).toBe(expected);
      // the same object written with spaces and newlines: the member's text parses to the same data
      const spaced = jsonArrayMember(JSON.stringify(body, null, 2), "messages");
      expect(spaced === undefined ? undefined : JSON.parse(spaced), json).toEqual(Array.isArray(body.messages) ? body.messages : undefined);
      if (expected !== undefined) found++;
    }
    expect(found).toBeGreaterThan(500);
  });

  it("is undefined for text that is not an object, lacks the member, or is cut short, and never throws", () => {
    expect(jsonArrayMember("[1,2]", "messages")).toBeUndefined();
    expect(jsonArrayMember('"messages"', "messages")).toBeUndefined();
    expect(jsonArrayMember("{}", "messages")).toBeUndefined();
    expect(jsonArrayMember('{"model":"x"}', "messages")).toBeUndefined();
    expect(jsonArrayMember('{"messages":"not an array"}', "messages")).toBeUndefined();
    expect(jsonArrayMember('{"a":{"messages":[1]}}', "messages")).toBeUndefined();
    expect(jsonArrayMember('{"a":"\\"messages\\":[1]"}', "messages")).toBeUndefined();
    const full = JSON.stringify({ model: "m", messages: [{ role: "user", content: 'say "[hi]" \\ {there}' }], stream: true });
    for (let cut = 0; cut < full.length; cut++) {
      const got = jsonArrayMember(full.slice(0, cut), "messages");
      // either nothing, or the whole member (when the cut falls after it)
      if (got !== undefined) expect(got).toBe(JSON.stringify([{ role: "user", content: 'say "[hi]" \\ {there}' }]));
    }
  });
});

describe("a JsonText prompt in a record", () => {
  it("is stored as the JSON text it holds (format json, its length, its preview); with redaction on it is redacted as the data it holds", async () => {
    const messages = [{ role: "user", content: "my card is 4111 1111 1111 1111, thanks" }];
    const projectPath = tmpProject();
    const plain = new AuditLogger({ sessionId: "json_text", projectPath, contentPreviewChars: 500 });
    plain.logChatInteraction({ prompt: new JsonText(JSON.stringify(messages)), response: "ok", model: "m" });
    await plain.finalizeSession();
    const [rec] = readKind(projectPath, "chat_interaction", "json_text");
    expect(rec).toMatchObject({ promptFormat: "json", promptLength: JSON.stringify(messages).length, promptPreview: JSON.stringify(messages) });

    const redacting = new AuditLogger({ sessionId: "json_text_r", projectPath, contentPreviewChars: 500, redact: {} });
    redacting.logChatInteraction({ prompt: new JsonText(JSON.stringify(messages)), response: "ok", model: "m" });
    await redacting.finalizeSession();
    const [red] = readKind(projectPath, "chat_interaction", "json_text_r");
    expect(red!.promptFormat).toBe("json");
    expect(String(red!.promptPreview)).not.toContain("4111 1111 1111 1111");
    expect(JSON.parse(String(red!.promptPreview))).toEqual([{ role: "user", content: expect.stringContaining("thanks") }]);
  });
});
