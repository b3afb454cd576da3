/**
 * @internal Names that say their value is a credential: the rule integrations/fetch.ts hides
 * headers and query parameters by, and the decorators hide members of a thrown object by (see
 * src/thrown-message.ts). Moved here from integrations/fetch.ts, 2026-12-05.
 */
import { readMember, REDACTED_TEXT } from "./instrument.js";
import { Redactor } from "./pipeline/redact.js";
import { isSecretName } from "./pipeline/secret-words.js";

export { isSecretName };

/**
 * The values of the credential headers among `sources` (header names as isSecretName reads them:
 * `Authorization`, `x-api-key`, `Helicone-Auth`, `x-portkey-api-key`), each also without its
 * auth scheme (`Bearer …`): the values a wrapped client sends besides its own key, which an
 * error a provider or gateway echoes them in must not carry into a record (see
 * hideCredentials). A source is a plain object, a `Headers`, a list of `[name, value]` pairs or
 * the Anthropic SDK's built headers (`{ values: Headers }`); anything else, or what cannot be
 * read, gives nothing. Never throws.
 *
 * @example
 * credentialHeaderValues({ "x-api-key": "k-123456789", accept: "*\/*" }, [["Authorization", "Bearer t-987654321"]])
 * // ["k-123456789", "Bearer t-987654321", "t-987654321"]
 */
export function credentialHeaderValues(...sources: unknown[]): string[] {
  const out: string[] = [];
  const add = (name: unknown, value: unknown): void => {
    if (typeof name !== "string" || typeof value !== "string" || !isSecretName(name)) return;
    out.push(value);
    const scheme = /^[A-Za-z][A-Za-z0-9_-]*\s+(\S[\s\S]*)$/.exec(value);
    if (scheme) out.push(scheme[1]!);
  };
  const read = (source: unknown, depth: number): void => {
    if (typeof source !== "object" || source === null || depth > 2) return;
    try {
      if (Array.isArray(source)) {
        for (const pair of source) if (Array.isArray(pair)) add(pair[0], pair[1]);
      } else if (typeof (source as { forEach?: unknown }).forEach === "function" && typeof (source as { get?: unknown }).get === "function") {
        (source as { forEach(fn: (value: unknown, name: unknown) => void): void }).forEach((value, name) => add(name, value));
      } else {
        const values = (source as { values?: unknown }).values;
        if (typeof values === "object" && values !== null && !Array.isArray(values)) read(values, depth + 1);
        for (const [name, value] of Object.entries(source)) add(name, value);
      }
    } catch {
      // headers that cannot be read (a Proxy, a throwing getter): the SDK meets them itself
    }
  };
  for (const source of sources) read(source, 0);
  return out;
}

/**
 * What a wrapped client's failed call hides from its recorded error (see hideCredentials): the
 * client's own credentials (`client`, read at the failure: an app may set a new key), and the
 * credential headers of the call's request options (`requestOptions.headers`), read only now, at
 * a failure, not at every call.
 */
export function callCredentials(client: readonly unknown[], requestOptions: unknown): unknown[] {
  return [...client, ...credentialHeaderValues(readMember(requestOptions, "headers"))];
}

/**
 * A thrown value that is no Error as JSON (undefined where JSON has no form for it), each member
 * named as a credential at any depth written as REDACTED_TEXT: such a payload (an RPC error) may
 * carry the request it failed, its `authorization` header, an `apiKey`. `code` is kept: the
 * record's context has it, and it is an error's code. Throws as JSON.stringify does (a cycle, a
 * BigInt, a throwing toJSON or getter). The one rule for the decorators' messages and
 * auditErrorHandler's (src/thrown-message.ts).
 */
export function jsonHidingSecrets(value: unknown): string | undefined {
  return JSON.stringify(value, hideSecretMember);
}

function hideSecretMember(key: string, value: unknown): unknown {
  return key !== "" && key !== "code" && isSecretName(key) ? REDACTED_TEXT : value;
}

/**
 * A label as text writes one before its value: `token=`, `api_key: `, `"apiKey": "`, a header
 * line's `Authorization: `. At most 64 characters (the scan stays linear on a long word).
 */
const LABEL = /(?<![A-Za-z0-9_.-])([A-Za-z_][A-Za-z0-9_.-]{0,63})(["']?[ \t]*[:=][ \t]*["']?)/g;
/** The value after a label: to whitespace, a quote or a separator (`&`, `,`, `;`, a closing bracket); an auth scheme (`Bearer `) is part of it. */
const LABELLED_VALUE = /(?:(?:bearer|basic|token|digest)[ \t]+)?[^\s"'&,;)\]}>]+/iy;

/**
 * A label that names a failure, not a value (`TokenError: expired`, `KeyFault: …`, the way an
 * error's text starts): what follows is its message, not a credential.
 */
const NAMES_A_FAILURE = /(?:error|exception|fault|failure|warning)$/i;

/** The logger's redaction rules for keys and tokens (vendor key shapes, bearer tokens, JWTs, private keys). */
export const KEY_SHAPE_RULES = ["private_key", "jwt", "anthropic", "openai", "github", "google", "stripe", "slack", "aws_access_key", "aws_secret_key", "bearer"] as const;
let keyShapes: Redactor | undefined;

/**
 * Text an app wrote about a thrown object (its own `toString()`: see src/thrown-message.ts) with
 * the credentials it names hidden, as {@link jsonHidingSecrets} hides them in the object's JSON:
 * the value of each label named as a credential (isSecretName: `token=…`, `Authorization: Bearer
 * …`, `x-api-key: …`, `?api_key=…`) is REDACTED_TEXT (`code` is kept, as there); then values
 * shaped as keys with no such label (a vendor's `sk-…` key, a bearer token, a JWT: the logger's
 * redaction rules KEY_SHAPE_RULES) are its placeholders (`[REDACTED:openai]`). Never throws:
 * text it cannot scan is REDACTED_TEXT, never the text unhidden.
 */
export function textHidingSecrets(text: string): string {
  try {
    // (the value of a label that names no credential is scanned for labels too: `url=/v1?api_key=…`)
    let labelled = "";
    let kept = 0;
    LABEL.lastIndex = 0;
    for (let m = LABEL.exec(text); m !== null; m = LABEL.exec(text)) {
      const label = m[1]!;
      if (label.toLowerCase() === "code" || NAMES_A_FAILURE.test(label) || !isSecretName(label)) continue;
      const end = m.index + m[0].length;
      LABELLED_VALUE.lastIndex = end;
      const value = LABELLED_VALUE.exec(text);
      if (value === null) continue;
      labelled += `${text.slice(kept, end)}${REDACTED_TEXT}`;
      kept = LABEL.lastIndex = end + value[0].length;
    }
    labelled += text.slice(kept);
    return (keyShapes ??= new Redactor({ rules: KEY_SHAPE_RULES })).redactText(labelled, {});
  } catch {
    return REDACTED_TEXT;
  }
}
