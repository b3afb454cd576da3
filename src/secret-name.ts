/**
 * @internal Names that say their value is a credential: the rule integrations/fetch.ts hides
 * headers and query parameters by, and the decorators hide members of a thrown object by (see
 * src/thrown-message.ts). Moved here from integrations/fetch.ts, 2026-12-05.
 */
import { REDACTED_TEXT } from "./instrument.js";
import { Redactor } from "./pipeline/redact.js";

// Header names and query (and fragment) parameter names that say they carry a credential: one
// rule for both, read word by word (separators and camelCase split words: `access_token`,
// `accessToken`, `X-Amz-Signature`, `Cf-Access-Jwt-Assertion`; digits ending a word are dropped:
// `cookie2`): a word that is one of SECRET_WORDS, or that ends in one of SECRET_ENDINGS
// (`authtoken`, `privatetoken`, `jsessionid`, `jwtassertion`, `oauth`). So `max_tokens` and
// `content-type` stay visible, while `token_type` or `sort_key` are hidden: the rule errs on the
// side of hiding. Headers had a list and a substring pattern of their own, which missed
// `X-JWT-Assertion`, `X-Passcode` and `X-OTP` that the parameters' words caught (found by review,
// 2026-12-05).
const SECRET_WORDS = new Set([
  "key", "sig", "code", "pin", "authn", "authz", "authorization", "authentication", "authenticate", "bearer",
  "jwt", "session", "sess", "sessid", "pwd", "pass", "mfa", "nonce", "verifier", "hapikey",
  // (OpenWeatherMap's and Wolfram|Alpha's API key parameter: `?q=London&appid=<key>` was recorded
  // in clear; found by the fetch new-user pass, 2026-12-05. `app_id`, two words, stays visible)
  "appid",
]);
const SECRET_ENDINGS = [
  "token", "secret", "secrets", "password", "passwd", "passcode", "passphrase", "apikey", "authkey", "accesskey", "privatekey",
  "secretkey", "sessionid", "sessionkey", "signature", "credential", "credentials", "assertion", "cookie", "cookies", "auth", "otp",
];

/** Whether a header, parameter or member of this name carries a credential (see SECRET_WORDS; any case). */
export function isSecretName(name: string): boolean {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/);
  for (const whole of words) {
    const word = whole.replace(/[0-9]+$/, "");
    if (word === "") continue;
    if (SECRET_WORDS.has(word)) return true;
    for (const end of SECRET_ENDINGS) if (word.endsWith(end)) return true;
  }
  return false;
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
