/**
 * The built-in redaction detectors: one named rule per kind of secret or personal datum, each a
 * global regex, a cheap hint that rules the regex out for most text, and (where a regex alone
 * would over-match) a checksum or shape check on the candidate.
 *
 * The order of {@link BUILTIN_DETECTORS} is the order rules claim text: whole blocks (private
 * keys, JWTs) and vendor keys with fixed prefixes first, generic shapes (e-mail, numbers) last, so
 * `Bearer <jwt>` is reported as a JWT and a card number is never also read as a phone number.
 */

import { isSecretName, isStrongSecretName, nameWords, passNameKind } from "./secret-words.js";

const DIGIT_RUN = /\d[\d .()+-]{7}/;

/**
 * Cheap facts about a text, computed at most once per text and only when a hint asks. Hints use
 * `String#includes` on a rare character where they can: V8 searches a single or rare leading
 * character with memchr, far faster than a regex alternation or a per-character loop.
 */
export class TextProbe {
  private digits: boolean | undefined;
  constructor(readonly text: string) {}
  /** a digit and 7 more digits or separators: the least a phone, card or SSN needs */
  get digitRun(): boolean {
    return (this.digits ??= DIGIT_RUN.test(this.text));
  }
}

/**
 * Whether `word` (lower case) is in the text in any case (`aUtHoRiZaTiOn`), looked for around each
 * of the `pivots` (spellings of its rare letter at `at`: "zZ" for authorization's "z"), so that a
 * text without them costs a memchr, not a copy of it in lower case (5-10% of a 1 KB chat).
 */
function containsAnyCase(text: string, word: string, at: number, pivots: string): boolean {
  for (const pivot of pivots) {
    for (let i = text.indexOf(pivot, at); i >= 0; i = text.indexOf(pivot, i + 1)) {
      if (equalsAnyCaseAt(text, i - at, word)) return true;
    }
  }
  return false;
}

/**
 * Whether `text` holds `word` (lower-case ASCII letters) at `start` in any case, compared code by
 * code (a slice in lower case per pivot cost as much as the rest of the hint on a chat with many).
 */
function equalsAnyCaseAt(text: string, start: number, word: string): boolean {
  if (start < 0 || start + word.length > text.length) return false;
  for (let k = 0; k < word.length; k++) {
    if ((text.charCodeAt(start + k) | 0x20) !== word.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * A compiled rule as the redactor runs it.
 * `accept` gets the candidate (the `secret` group when the pattern has one, else the whole match)
 * and returns how many of its leading characters to redact: its length for a hit, 0 for none
 * (`text` and `index`: the text scanned and where the match starts in it).
 */
export interface Detector {
  readonly name: string;
  readonly pattern: RegExp;
  /** true when the pattern has a `(?<secret>...)` group: only that part is replaced */
  readonly secretGroup: boolean;
  /** the shortest text a hit can be: shorter texts (most object keys) skip the rule outright */
  readonly minLength: number;
  readonly hint?: (text: string, probe: TextProbe) => boolean;
  readonly accept?: (candidate: string, match: string, text: string, index: number) => number;
  /**
   * Where the value really starts, for patterns anchored on a rare character inside it (an
   * e-mail's "@"): given the text and the match index, the start index, or -1 for no match.
   */
  readonly extendLeft?: (text: string, index: number) => number;
  /**
   * Where the `secret` group starts, for a pattern without the `d` flag (indices cost a scan
   * several times over): given the match, the index of the group's start in the text.
   */
  readonly secretStart?: (match: RegExpExecArray) => number;
  /**
   * More values of the rule right after an accepted one, under the same label (a list of
   * recovery codes: each code after the first): given the text and the accepted span, the
   * `[start, end)` of each, in order.
   */
  readonly following?: (text: string, start: number, end: number) => ReadonlyArray<readonly [number, number]>;
  /** canonical form fed to the HMAC, so "+1 415-555-2671" and "+14155552671" correlate */
  readonly normalize?: (value: string) => string;
}

// ---------------------------------------------------------------- checks

/** Luhn (mod 10) over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Whether a card number's issuer prefix (IIN) and length belong to a real card scheme. */
export function cardSchemeValid(digits: string): boolean {
  const n = digits.length;
  const p2 = (digits.charCodeAt(0) - 48) * 10 + (digits.charCodeAt(1) - 48);
  const p3 = p2 * 10 + (digits.charCodeAt(2) - 48);
  const p4 = p3 * 10 + (digits.charCodeAt(3) - 48);
  if (digits[0] === "4") return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (digits[0] === "6") return n >= 16 && n <= 19; // Discover, UnionPay, Maestro, RuPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 58)) return n >= 13 && n <= 19; // Maestro
  return false;
}

/** IBAN length per country (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
});

/** ISO 13616 check: the rearranged IBAN, letters as 10..35, is 1 modulo 97. */
export function ibanChecksumValid(compact: string): boolean {
  if (compact.length < 5) return false;
  const s = compact.slice(4) + compact.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

/** The part of a candidate that is a valid IBAN (its country's length, checksum), or 0. */
function ibanExtent(candidate: string): number {
  const expected = IBAN_LENGTHS[candidate.slice(0, 2)];
  if (expected === undefined) return 0;
  let compact = "";
  let i = 0;
  for (; i < candidate.length && compact.length < expected; i++) {
    if (candidate[i] !== " ") compact += candidate[i];
  }
  if (compact.length < expected) return 0;
  // cut only between groups, never inside one
  if (i < candidate.length && candidate[i] !== " ") return 0;
  return ibanChecksumValid(compact) ? i : 0;
}

/** The longest prefix of a candidate, cut at a separator, that is a valid card number; or 0. */
function cardExtent(candidate: string): number {
  let digits = "";
  // [index of a separator, digits before it], so a trailing group (an expiry date, a CVV) can be cut
  const cuts: Array<[number, number]> = [];
  for (let i = 0; i < candidate.length; i++) {
    const ch = candidate[i]!;
    if (ch === " " || ch === "-") cuts.push([i, digits.length]);
    else digits += ch;
  }
  if (isCardNumber(digits)) return candidate.length;
  for (let k = cuts.length - 1; k >= 0; k--) {
    const [at, n] = cuts[k]!;
    if (n < 13) break;
    if (isCardNumber(digits.slice(0, n))) return at;
  }
  return 0;
}

function isCardNumber(digits: string): boolean {
  return digits.length >= 13 && digits.length <= 19 && cardSchemeValid(digits) && luhnValid(digits);
}

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

function phoneAccept(candidate: string): number {
  const n = countDigits(candidate);
  if (candidate[0] === "+") {
    const contiguous = /^\+\d+$/.test(candidate);
    return n <= 15 && n >= (contiguous ? 10 : 9) ? candidate.length : 0;
  }
  if (candidate[0] === "0") {
    // pairs all through (French "06 12 34 56 78") or groups of 3+ after the area code (UK, DE);
    // a stray short group is more likely part of an account or reference number
    const groups = candidate.split(/[ .-]/);
    let pairs = true;
    let long = true;
    for (let i = 0; i < groups.length; i++) {
      const len = groups[i]!.length;
      if (len !== 2) pairs = false;
      if (i > 0 && len < 3) long = false;
    }
    const shaped = pairs ? groups.length === 5 : long;
    return shaped && n >= 9 && n <= 12 ? candidate.length : 0;
  }
  return candidate.length; // North American: the pattern already fixes 10 or 11 digits
}

/** Whether a base64url JWT header decodes to a JSON object with a string "alg". */
export function jwtHeaderValid(token: string): boolean {
  const dot = token.indexOf(".");
  if (dot <= 0) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), "base64url").toString("utf8"));
    return typeof header === "object" && header !== null && typeof (header as { alg?: unknown }).alg === "string";
  } catch {
    return false;
  }
}

/** A letter, digit or combining mark of any script (for an e-mail's local part beyond ASCII). */
const WORD_CHAR = /^[\p{L}\p{M}\p{N}]$/u;

/**
 * The start of an e-mail's local part (1-64 UTF-16 units of A-Z a-z 0-9 . _ % + - and letters,
 * digits and marks of any script) before the "@" at `at`, or -1. A longer run of such characters
 * is taken from its last 64 (the address is redacted, not left whole for having too long a local
 * part), never starting inside a surrogate pair.
 */
function emailStart(text: string, at: number): number {
  let i = at;
  while (i > 0 && at - i < 65) {
    const c = text.charCodeAt(i - 1);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45) {
      i--;
    } else if (c < 0x80) {
      break;
    } else if (c >= 0xdc00 && c <= 0xdfff && i >= 2 && WORD_CHAR.test(text.slice(i - 2, i))) {
      i -= 2; // a letter outside the BMP (a surrogate pair)
    } else if (WORD_CHAR.test(text[i - 1]!)) {
      i--;
    } else {
      break;
    }
  }
  if (at - i < 1) return -1;
  let start = Math.max(i, at - 64);
  const first = text.charCodeAt(start);
  if (start > i && first >= 0xdc00 && first <= 0xdfff) start--;
  return start;
}

const hasDigit = (s: string): boolean => /\d/.test(s);
const hasUpper = (s: string): boolean => /[A-Z]/.test(s);
const hasLower = (s: string): boolean => /[a-z]/.test(s);

/** One auth-param, `name=value` or `name="value"` (also with the quotes JSON-escaped); never base64 padding (`==`). */
const AUTH_PARAM_SOURCE = `[A-Za-z][A-Za-z0-9_-]*=(?!=)(?:\\\\?"[^"\\\\\\r\\n]*\\\\?"|[^\\s,"'\\\\=][^\\s,"'\\\\]*)`;
/** A list of auth-params after a scheme, as Digest and AWS Signature Version 4 send them. */
const AUTH_PARAMS = `${AUTH_PARAM_SOURCE}(?:[ \\t]*,[ \\t]*${AUTH_PARAM_SOURCE})*`;
const AUTH_PARAM = new RegExp(`^${AUTH_PARAM_SOURCE}`);

/** A random credential as text shows it: a digit, or both cases over 12 characters or more. */
const credentialShaped = (t: string): boolean => hasDigit(t) || (hasUpper(t) && hasLower(t) && t.length >= 12);

/** The values of an auth-param list (`username="bob", response="6629…"`). */
const AUTH_PARAM_VALUE = /=(?:\\?"([^"\\\r\n]*)\\?"|([^\s,"'\\]*))/g;

/** Whether an auth-param list holds a credential (a Digest `response`, an AWS `Signature`). */
function paramsHoldCredential(params: string): boolean {
  for (const m of params.matchAll(AUTH_PARAM_VALUE)) if (credentialShaped(m[1] ?? m[2] ?? "")) return true;
  return false;
}

/**
 * How much of what follows `Bearer ` or an Authorization label (and its Bearer, Basic or Token
 * scheme, which stays) is the credential. After the label that is also a scheme of another name
 * with the credential after it (`ApiKey …`, `SSWS …`, `Bot …`: both go, the scheme cannot stay
 * alone), or auth-params (`Digest username="bob", response="…"`, AWS4-HMAC-SHA256's
 * `Credential=…, Signature=…`: all of them go when one holds a credential). Otherwise its first
 * word, when long enough (any 8 characters after the label: Basic's base64 may have no digit),
 * but code, and a word of prose followed by more text, reading as a status (readsAsStatus), or
 * alone on its line and reading as English (readsAsWord).
 */
function bearerAccept(candidate: string, match: string, text: string, index: number): number {
  const labelled = /^authorization/i.test(match);
  if (labelled && AUTH_PARAM.test(candidate)) return paramsHoldCredential(candidate) ? candidate.length : 0;
  const gap = /[ \t]+/.exec(candidate);
  const first = gap ? candidate.slice(0, gap.index) : candidate;
  if (labelled && gap) {
    const rest = candidate.slice(gap.index + gap[0].length);
    if (AUTH_PARAM.test(rest) ? paramsHoldCredential(rest) : !credentialShaped(first) && credentialShaped(rest.replace(/=+$/, ""))) return candidate.length;
  }
  const t = first.replace(/=+$/, "");
  if (t.length < 8) return 0;
  // (a word after the label, `Authorization: required for all endpoints`, and code,
  // `Authorization: req.headers.authorization`, are none: until 2026-12-06 any 8 characters were)
  if (!labelled) return credentialShaped(t) ? first.length : 0;
  const end = index + match.length - candidate.length + first.length;
  if (readsAsCode(first, text[end])) return 0;
  if (!PROSE_WORD.test(t)) return first.length;
  const next = text[end] ?? "\n";
  if (!LONE_VALUE_END.test(next) || readsAsStatus(t)) return 0;
  // (alone on its line, a word that reads as English stays, `Authorization: sometimes`; in a
  // quote, `-H 'Authorization: letmeinnow'`, it is the header's value as sent, and goes. Until a
  // review, 2026-12-06, any word there but a status word went)
  return (next === "\n" || next === "\r") && readsAsWord(t) ? 0 : first.length;
}

/**
 * The letters that follow each letter in English words (in 50 or more of the 63,875 lower-case
 * words of Debian's wamerican list); any other pair (`qw`, `bc`, `fg`, `kq`) is rare in a word.
 */
const ENGLISH_PAIRS: ReadonlyMap<number, string> = new Map(
  (
    "a:bcdefghiklmnprstuvwxyz b:abeilorstuy c:acehiklorstuy d:abcdefghijlmnorsuvwy e:abcdefghijklmnopqrstuvwxyz " +
    "f:aefilorstuy g:aeghilmnorsuy h:abeilmnorstuwy i:abcdefgklmnopqrstuvxz j:aeiou k:abeilnosuy " +
    "l:abcdefgiklmnopstuvy m:abeilmnopsuy n:abcdefghijklmnopqrstuvwy o:abcdefghiklmnoprstuvwxyz p:aehiloprstuy q:u " +
    "r:abcdefghiklmnoprstuvwy s:abcefghiklmnopqstuwy t:abcefhilmnoprstuwyz u:abcdefgilmnoprstz v:aeiou w:abdehilnors " +
    "x:aceipt y:abcdegilmnoprstw z:aeiloz"
  ).split(" ").map((e) => [e.charCodeAt(0), e.slice(2)] as const),
);

/**
 * Whether a word of lower-case letters reads as English, without a dictionary: each pair of
 * letters in it is one English words often have (ENGLISH_PAIRS). Measured 2026-12-06 on words of
 * 8 to 15 letters: 97.0% of wamerican's (38,423) and 96.9% of this repository's docs' (1,058)
 * read so, and 1.4% of 100,000 random tokens of as many letters (3.1% with readsAsStatus's
 * endings; the table is drawn from wamerican, so its figure is in-sample, the docs' less so).
 * Words run together read so too (`letmeinnow`).
 */
function readsAsWord(word: string): boolean {
  for (let i = 0; i + 1 < word.length; i++) {
    if (!ENGLISH_PAIRS.get(word.charCodeAt(i))?.includes(word[i + 1]!)) return false;
  }
  return true;
}

/**
 * What ends a header's value that is all its line or all its quote (`Authorization: abcdefghij`
 * at a line's end, `-H 'Authorization: letmeinnow'`, `"Authorization": "supersecret"`; a JSON
 * text's escapes too): a word there is the header's whole value, not the start of a sentence.
 */
const LONE_VALUE_END = /^[\r\n"'\\]$/;

/**
 * Whether a word of prose after an Authorization label, alone on its line, reads as a status
 * (`required`, `optional`, `forbidden`, `successful`, `anonymous`): by the endings of English
 * participles and adjectives, or a few other words documentation writes there. A random token
 * of 8 to 15 lower-case letters ends so 1.7% of the time (measured 2026-12-06; it said one in
 * 20), and is then kept.
 */
function readsAsStatus(word: string): boolean {
  const w = word.toLowerCase();
  return STATUS_ENDING.test(w) || STATUS_WORDS.has(w) || w !== word; // a capital first: a sentence's word
}
const STATUS_ENDING = /(?:ed|en|ing|ion|ions|al|ble|ful|ive|ous|ory|ary|ent|ant|ic|ly|er|ers|or|ity|ty|ize|ise|less|ness|ment|ship)$/;
const STATUS_WORDS = new Set(["anything", "everything", "anyone", "everyone", "username", "password", "credentials", "whatever", "unknown", "default", "standard", "boolean", "headers"]);

/**
 * A word of prose: letters in lower case, the first perhaps a capital, at most 15 of them
 * (`required`, `Denied`). A random credential of letters alone is longer, or of both cases.
 */
const PROSE_WORD = /^[A-Za-z][a-z]{0,14}$/;
/**
 * Code: a member path of identifiers (letters, `_`, `$`; the last may end in up to 3 digits:
 * `passwordInput.value`, `session?.accessToken2`), or a call or index on a path of such names
 * without digits (`bcrypt.hash(`, `getToken(`, `creds[`).
 */
const CODE_VALUE = /^[A-Za-z_$]+(?:\??\.[A-Za-z_$]+)*(?:\??\.[A-Za-z_$]+\d{0,3}(?:[([]|$)|[([])/;

/**
 * Whether a value after a credential's label is code that reads the credential, not the
 * credential: a member path or a call (`passwordInput.value`, `bcrypt.hash(pw1)`,
 * `getToken(user1)`; `next`: the character after the value, for a pattern whose value stops
 * before "("). A credential with a dot has a part no such identifier has (`ya29.a0AfH6SMB…`,
 * `Secret1.abc`: digits before the last part), and stays a credential. (Until 2026-12-06 code after `password =` or
 * `Authorization:` in a chat's code samples was redacted.)
 */
function readsAsCode(value: string, next: string | undefined): boolean {
  return CODE_VALUE.test(next === "(" || next === "[" ? value + next : value);
}

/**
 * The last word of a label that names something about a credential, not the credential: its
 * count, length, type, name, id, expiry or where it is (`token_count`, `password_length`,
 * `key_id`, `token_url`, `password-file`). (Until 2026-12-06 `token_count: 12345abc` was redacted.)
 */
const ABOUT_A_CREDENTIAL = new Set([
  "count", "counts", "length", "len", "size", "limit", "limits", "max", "min", "total", "type", "kind", "name", "id", "ids",
  "index", "idx", "expiry", "expires", "expiration", "ttl", "age", "url", "uri", "endpoint", "path", "file", "field", "label",
  "hint", "usage", "format", "version", "policy", "rule", "rules", "strength",
]);

/** A label that names a failure, not a value (`TokenError: expired`): what follows is a message. */
const NAMES_A_FAILURE = /(?:error|exception|fault|failure|warning)$/i;
/** Characters of a label (a header, parameter or member name). */
const LABEL_CHAR = /[A-Za-z0-9_.%-]/;

/**
 * A value after a label that names a credential (isStrongSecretName: `x-api-key`, `access_token`,
 * `password`, not `sessionId` or `cacheKey`; in a URL's parameters isSecretName: `?key=`,
 * `&sig=`; never `code`, nor a failure's name), when it reads as one: at least 6
 * characters with a letter, and a digit or both cases over 12 or more. So "token: expired",
 * "password: required" and "session: 2024-01-01" stay. The pattern matches from a word of the
 * label on (`key` in `x-api-key`), so that only text naming a credential costs more than a scan:
 * the label's start is found here, walking back; a label right after a ":" is none (a
 * placeholder's rule name, `[REDACTED:jwt:<hmac>]`). Beyond that shape (2026-12-06): a one-time
 * code of digits after a label that says it is one (`OTP: 482913`, `verification code is
 * 482913`), digits after a password's label (`password: 12345678`), and a password of another
 * shape where only a password stands (passwordValue: `DB_PASS=hunter`, `"Pa$$word!"`).
 */
function credentialAccept(value: string, match: string, text: string, index: number): number {
  let start = index;
  while (start > 0 && index - start < 64 && LABEL_CHAR.test(text[start - 1]!)) start--;
  if (start > 0 && (LABEL_CHAR.test(text[start - 1]!) || text[start - 1] === ":")) return 0;
  // (a command-line flag's dashes are no part of its name: `--password=`, `-api-key=`; until
  // 2026-12-06 a label starting with one was no label, and `mysql --password=…` stayed in clear)
  let nameStart = start;
  while (nameStart < index && (text[nameStart] === "-" || text[nameStart] === ".")) nameStart++;
  // (a name starts with a letter or "_", but `2fa_code`, `2FA-Code`)
  if (!/[A-Za-z_]/.test(text[nameStart]!) && !/^[0-9]fa[_.-]/i.test(text.slice(nameStart, nameStart + 4))) return 0;
  // (a flag's value after a space, `--password Secret123`; elsewhere a label needs ":" or "=",
  // but for a one-time code's and a password's after "is": see below)
  const separated = /[:=]/.test(match) || text[start] === "-";
  // (the whole value, but a sentence's stop: `123456:ABC-DEF1234gh…`, a Telegram bot's token, is no code)
  const digits = /^(?:\d{4,10}|\d{3,5}-\d{3,5})(?=[.:!?]*$)/.exec(value)?.[0];
  const valueStart = index + match.length;
  // (a code split by a space, `482 913`: its length, or 0; taken only after a one-time label in the singular, below)
  const split = splitCodeLength(value, text, valueStart);
  // ("is" or "are", perhaps with a ":": prose, but for digits, a code split by a space, or a password's value, proseIsValue)
  const isForm = IS_FORM.test(match);
  if (!separated && digits === undefined && split === 0 && !(isForm && PROSE_PASSWORD_MATCH.test(match))) return 0;
  // (percent-escapes decoded: `?api%5Fkey=`, until 2026-12-06 no label)
  const label = (text.slice(nameStart, index) + (/^[A-Za-z0-9_.%-]*/.exec(match)?.[0] ?? "")).replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  const words = nameWords(label);
  const last = words[words.length - 1] ?? "";
  if (ABOUT_A_CREDENTIAL.has(last) || NAMES_A_FAILURE.test(label)) return 0;
  // (a URL's parameter, `?key=`, `&sig=`, `;jsessionid=`, by isSecretName; elsewhere the stronger
  // rule, so that `sessionId: conv_8f3a2` and `cacheKey=user42` stay)
  const inUrl = start > 0 && "?&#;".includes(text[start - 1]!);
  const oneTime = ONE_TIME_WORDS.has(last) || (ONE_TIME_QUALIFIABLE.has(last) && ONE_TIME_LABEL.test((text.slice(Math.max(0, nameStart - 24), nameStart) + label).toLowerCase()));
  // (`your code is 482913`, `Your Uber code: 4829`: digits only, see yourCodeLabel)
  const yours = !oneTime && words.length === 1 && last === "code" && yourCodeLabel(match, text, nameStart);
  // (a code split by a space after a label in the singular, `verification code: 482 913`, `your code is
  // 123 456`, goes whole; after one in the plural, `passcodes: 1234 5678`, it is a list, codeListFollowing)
  if (split > 0 && !last.endsWith("s") && (oneTime || (yours && codeEndsClause(text, valueStart + split)))) return split;
  // (a value on the line after its label's ":" only for a one-time code's: `backup codes:\n12345678`)
  if (!oneTime && match.includes("\n")) return 0;
  // (a name ending in `pass` after another word, in a URL's parameters too: `DB_PASS` names a
  // password, `first_pass` none, `GRAFANA_PASS` one only for a value of a credential's shape)
  const pass = oneTime ? undefined : passNameKind(label);
  const named = oneTime || (pass === undefined ? label.toLowerCase() !== "code" && (inUrl ? isSecretName(label) : isStrongSecretName(label)) : pass === "password");
  // (a one-time code or PIN, 4 to 10 digits or two groups of 3 to 5, `482-913`: `OTP: 482913`,
  // `verification code is 482913`, `PIN: 4829`; and a password of digits, `password: 12345678`:
  // until 2026-12-06 a value needed a letter)
  if (digits !== undefined) {
    if (oneTime || (yours && codeEndsClause(text, valueStart + digits.length))) return digits.length;
    const bare = words.length === 1 && separated;
    if ((bare && last === "pin" && digits.length <= 8) || (separated && named && PASSWORD_WORD.test(last))) return digits.length;
    // (digits after "is": `the password is 12345678`, `my PIN is 4829`; a word there, proseIsValue.
    // Until 2026-12-06 these digits were kept)
    if (IS_FORM.test(match) && ((PASSWORD_WORD.test(last) && named && digits.length >= 6) || (last === "pin" && digits.length <= 8))) return digits.length;
    return separated && named && ENV_SECRET_LAST_WORD.test(last) && envAssignment(value, label, match, text, start) ? digits.length : 0;
  }
  // (a password after "is", `the password is hunter2`; else "is:" reads as ":", `Your OTP is: A7K9Q2`)
  if (isForm && named && PROSE_PASSWORD_WORD.test(last)) {
    const length = proseIsValue(value, text, valueStart);
    if (length > 0) return length;
  }
  if (!(named || pass === "shape") || !separated || ENVIRONMENT_REFERENCE.test(value) || readsAsCode(value, undefined)) return 0;
  // (the shell's working directory, `PWD=/home/bob`, is no password; until 2026-12-06 it was read as one)
  if (last === "pwd" && words.length === 1 && /^[/~]/.test(value)) return 0;
  if (value.length >= 6 && /[A-Za-z]/.test(value) && credentialShaped(value)) return value.length;
  if (!named) return 0;
  if (ENV_SECRET_LAST_WORD.test(last) && envAssignment(value, label, match, text, start)) return value.length;
  return PASSWORD_WORD.test(last) && passwordValue(value, label, match, text, start, index + match.length) ? value.length : 0;
}

/**
 * A label's match that ends with "is" or "are" (`password is `, `PIN is: `, `recovery codes are `):
 * prose, unless what follows is digits alone, a code split by a space, or a password (proseIsValue).
 */
const IS_FORM = /[ \t](?:is|are):?[ \t]+["']?$/i;

/**
 * The length of a one-time code split by a space (`482 913`, `1234 5678`: two groups of 3 to 5
 * digits, of one length) whose first group is `value`, at `valueStart` in `text`; or 0. The second
 * group ends the word: no letter, digit or further group of digits after it (`482 913 2671` is
 * no code).
 */
function splitCodeLength(value: string, text: string, valueStart: number): number {
  if (value.length < 3 || value.length > 5 || !/^\d+$/.test(value)) return 0;
  SPLIT_CODE_REST.lastIndex = valueStart + value.length;
  const m = SPLIT_CODE_REST.exec(text);
  return m !== null && m[1]!.length === value.length ? value.length + 1 + value.length : 0;
}
const SPLIT_CODE_REST = / (\d{3,5})(?![\w@]|[.,:/-]\d| \d)/y;

/**
 * Whether `code` before its label `code` is the user's one-time code: `your` (and at most two
 * capitalised words, a sender's name: `Your Uber code is 4829`) right before the label, and ":"
 * or "is" after it. (2026-12-06: `your code is 123456` was kept, as `the code is 123456` is.)
 */
function yourCodeLabel(match: string, text: string, nameStart: number): boolean {
  return YOUR_CODE_SEPARATOR.test(match) && YOUR_BEFORE.test(text.slice(Math.max(0, nameStart - 48), nameStart));
}
const YOUR_CODE_SEPARATOR = /^code["']?(?:[ \t]*:[ \t]*|[ \t]+is:?[ \t]+)["']?$/i;
const YOUR_BEFORE = /(?:^|[^A-Za-z0-9_])[Yy]our(?:[ \t]+[A-Z][A-Za-z0-9]{0,20}){0,2}[ \t]+$/;

/**
 * Whether a code after `your code is` ends its clause, as a code a message gives does (`Your code
 * is 482913.`, `… 482913 and expires in 10 minutes`, `… 482913 Do not share it`), not a count
 * of something (`your code is 1500 lines long`): no lower-case word after it but one of a few a
 * message goes on with.
 */
function codeEndsClause(text: string, end: number): boolean {
  const next = /^[ \t]+([a-z][a-z']*)/.exec(text.slice(end, end + 24));
  return next === null || CODE_MESSAGE_NEXT.has(next[1]!);
}
const CODE_MESSAGE_NEXT = new Set(["and", "to", "for", "valid", "expires", "it", "please", "do", "don't", "dont", "never", "use", "enter", "which", "this", "is", "if", "or", "from", "via"]);

/** A label's last word that names a password in prose (`the password is …`; not `pwd`, the working directory, nor `pass`). */
const PROSE_PASSWORD_WORD = /(?:password|passwd|passphrase)$/;
/** A label's match ending in such a word and "is" or "are" (read first, so that other labels' prose costs no more). */
const PROSE_PASSWORD_MATCH = /(?:password|passwd|passphrase)["']?[ \t]+(?:is|are)\b/i;

/**
 * How much of a value after `password is` (`the password is hunter2`, `my password is hunter`,
 * `The Password is 'Guest42'`) is the password, when it is one: 4 characters or more with a letter
 * or a digit (digits alone are read before: 6 or more), a trailing sentence stop not part of it,
 * and no word of prose (PROSE_AFTER_IS: `required`, `too`, `wrong`, `not`, `None`, `string`),
 * participle or adverb (`stored`, `being`, `securely`, `changeable`, `sensitive`), hyphenated
 * compound of such a word (`case-sensitive`, `URL-encoded`; three words or more are a passphrase,
 * `correct-horse-battery-staple`), template, reference, mask or code. (Until 2026-12-06 any word
 * there stayed, the password with it.)
 */
function proseIsValue(value: string, text: string, valueStart: number): number {
  // (a sentence's stop or markdown's closing mark is no part of it: `the password is secret`.; a
  // markdown's opening mark is, as the value starts there: `[REDACTED:credential]` then "`")
  const v = value.replace(/[.:`*_~]+$/, "");
  const core = v.replace(/^[`*_~]+/, "").replace(/!+$/, "");
  // (a count and its unit is none: `8-characters`, `12chars`)
  if (core.length < 4 || !/[A-Za-z]/.test(core) || /^\d{1,3}-?[A-Za-z]+$/.test(core)) return 0;
  if (TEMPLATE.test(core) || ENVIRONMENT_REFERENCE.test(core) || readsAsCode(core, text[valueStart + v.length]) || /^(.)\1*$/s.test(core)) return 0;
  const parts = core.split("-");
  if (parts.length <= 2 && parts.some((p) => readsAsProse(p))) return 0;
  // (a possessive is prose: `the password is admin's responsibility`, `… John's old one`)
  if (v === value && /^[A-Za-z]+$/.test(core) && /^['\u2019]s\b/.test(text.slice(valueStart + v.length, valueStart + v.length + 3))) return 0;
  return v.length;
}

/** A word after `password is` that is prose, by a stop-list or an ending (see proseIsValue). */
function readsAsProse(word: string): boolean {
  const w = word.toLowerCase();
  return PROSE_AFTER_IS.has(w) || (/^[a-z]+$/.test(w) && PROSE_ENDING.test(w));
}
const PROSE_ENDING = /(?:ed|ing|ly|able|ible|ive|ic)$/;
/**
 * Words that follow `password is` in prose and code, not a password: articles and other function
 * words, adjectives of a password's state and strength, types, and participles without an `-ed`
 * ending. Drawn from docs, UI messages and code (2026-12-06); a password that is one of them is
 * kept (`the password is secret`).
 */
const PROSE_AFTER_IS = new Set([
  // function words
  "a", "an", "the", "not", "no", "now", "never", "always", "also", "only", "just", "still", "already", "too", "very",
  "so", "quite", "really", "be", "been", "being", "in", "on", "at", "of", "for", "to", "from", "with", "without", "by",
  "as", "about", "like", "exactly", "either", "both", "all", "any", "some", "same", "this", "that", "these", "those",
  "what", "which", "whatever", "your", "my", "his", "her", "their", "our", "its", "it", "one", "and", "or", "but",
  "then", "there", "here", "how", "why", "when", "where", "less", "more", "most", "least", "much", "well", "else",
  "nothing", "something", "anything", "everything", "none", "null", "nil", "undefined", "true", "false", "empty", "blank",
  // prepositions and places (`Password is between 8 and 64 characters`, `the password is below the minimum`;
  // until the adversarial review of 2026-12-06 these went as passwords, and the sentence with them)
  "above", "below", "between", "within", "under", "over", "after", "before", "until", "since", "against", "into", "onto",
  "upon", "near", "inside", "outside", "behind", "beyond", "beneath", "underneath", "throughout", "toward", "towards",
  "among", "amongst", "across", "along", "around", "unlike", "than", "versus", "except", "plus", "minus", "despite",
  "during", "elsewhere", "somewhere", "nowhere", "everywhere", "theirs", "ours", "hers", "lowercase", "uppercase",
  "nonempty", "whitespace", "compulsory", "single", "side", "use", "misspelt",
  // a password's state, strength or kind
  "required", "optional", "mandatory", "correct", "incorrect", "wrong", "right", "valid", "invalid", "missing", "set",
  "unset", "reset", "sent", "shown", "hidden", "known", "unknown", "given", "taken", "chosen", "written", "forgotten",
  "stolen", "broken", "kept", "lost", "weak", "strong", "secure", "insecure", "safe", "unsafe", "long", "short", "good",
  "bad", "fine", "okay", "ok", "great", "easy", "hard", "simple", "complex", "random", "unique", "new", "old", "current",
  "temporary", "permanent", "case", "secret", "private", "public", "plain", "plaintext", "stale", "due", "ready",
  "available", "unavailable", "active", "inactive", "necessary", "needed", "nullable", "different", "identical",
  "equal", "similar", "complete", "incomplete", "able", "unable", "free", "open", "closed", "locked", "expired",
  "ignored", "mine", "yours", "obvious", "common", "default", "standard", "generic", "real", "fake", "dummy",
  "usually", "often", "sometimes", "typically", "generally", "normally", "probably", "actually", "simply", "sensitive",
  "insensitive", "part", "shorter", "longer", "stronger", "weaker", "better", "worse", "best", "worst", "whole",
  // a strength meter's grades, and participles not ending in `-ed` or `-en` (`the password is read from …`)
  "medium", "fair", "moderate", "average", "poor", "excellent", "perfect", "mismatch", "length", "min", "max", "per", "via",
  "off", "specific", "important", "confidential", "personal", "critical", "useless", "unnecessary", "obsolete", "legacy",
  "present", "absent", "gone", "enough", "sufficient", "insufficient", "irrelevant", "cleartext", "pwned",
  "read", "put", "held", "told", "left", "found", "made", "done", "run", "built", "got", "gotten", "spent", "stuck",
  "shut", "split", "meant", "paid", "said", "sold", "won", "understood", "taught", "caught", "brought", "thought",
  "drawn", "seen", "bound",
  // encodings and hashes (`the password is base64 encoded`, `the password is bcrypt hashed`)
  "base64", "hex", "utf8", "ascii", "unicode", "bcrypt", "scrypt", "argon2", "argon2id", "pbkdf2", "md5", "sha1",
  "sha256", "sha512", "sha",
  // types, in code (`password is None`, `password is string`)
  "string", "number", "boolean", "object", "array", "bytes", "integer", "buffer", "function", "str", "int", "bool",
]);

/**
 * Whether an object member of this name holds a secret whatever its value (`{ password: "sunshine" }`,
 * `{ otp: 482913 }`, `{ pin: 1234 }`): the name's last word names the secret itself, by the
 * `credential` rule's words (isStrongSecretName: `password`, `pwd`, `secret`, `client_secret`,
 * `access_token`, `api_key`, `apiKey`, `private_key`, `authorization`), a one-time code's
 * (`otp`, `passcode`, `verification_code`; `pin` with 4 to 8 digits), never something about it (`token_count`,
 * `password_hash`, `refresh_token_expires_in`, `keyId`). A `token` alone is none: an LLM's
 * log-probabilities name each text token so (`{ token: "Hello", logprob: -0.1 }`); nor are
 * `tokens`, `max_tokens`, `prompt_tokens`, `pinned`, `keyboard`, `sessionId`, `cacheKey`.
 * The value is one unless there is nothing to hide: an empty or blank string, a placeholder
 * already, a number not finite or under a plural name (a count: `{ cookies: 3 }`), or what the
 * text rule keeps after such a label, a reference to where the secret is read from
 * (`${DB_PASSWORD}`, `process.env.DB_PASSWORD`), code (`config.apiKey2`) or the working directory
 * (`{ PWD: "/home/bob" }`).
 *
 * @example
 * isSecretMember("password", "sunshine") // true
 * isSecretMember("max_tokens", 4096)     // false
 */
export function isSecretMember(name: string, value: string | number | bigint): boolean {
  let kind = SECRET_NAME_KINDS.get(name);
  if (kind === undefined) {
    kind = secretNameKind(name);
    // (names repeat from record to record: each is read once, up to a bound; only a name of an
    // identifier's shape is held, not a key that is data, `{ "bob@example.com": … }`)
    if (IDENTIFIER_NAME.test(name)) {
      if (SECRET_NAME_KINDS.size >= 4096) SECRET_NAME_KINDS.clear();
      SECRET_NAME_KINDS.set(name, kind);
    }
  }
  if (kind === "none") return false;
  if (typeof value === "number" && !Number.isFinite(value)) return false;
  if (kind === "pin") return /^\d{4,8}$/.test(String(value));
  if (typeof value !== "string") return kind === "any";
  if (value.trim() === "" || value.startsWith("[REDACTED:") || value.startsWith("${") || ENVIRONMENT_REFERENCE.test(value) || readsAsCode(value, undefined)) return false;
  return !(/^pwd$/i.test(name) && /^[/~]/.test(value));
}

/**
 * What a member's name says of its value (isSecretMember): nothing; any string or number; a
 * string (a number under a plural name is a count, `{ cookies: 3 }`); 4 to 8 digits (a PIN, as
 * the text rule reads `PIN: 4829`; `{ led_pin: 13 }` is a board's pin).
 */
type SecretName = "none" | "any" | "text" | "pin";
const SECRET_NAME_KINDS = new Map<string, SecretName>();
const IDENTIFIER_NAME = /^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$/;

function secretNameKind(name: string): SecretName {
  const words = nameWords(name);
  const last = words[words.length - 1];
  if (last === undefined || ABOUT_A_CREDENTIAL.has(last) || NAMES_A_FAILURE.test(name)) return "none";
  if (last === "pin") return "pin";
  // (left to the text rules, which take a credential's shape: an e-mail's `signature`, a model's
  // `eos_token`, an `auth` mode, `{ auth: "none" }`; found by review, 2026-12-06: taken whole)
  if (NOT_SECRET_MEMBER_LAST.has(last) || (last === "token" && words.length >= 2 && NOT_A_CREDENTIAL_TOKEN.has(words[words.length - 2]!))) return "none";
  if (words.length === 1 && (last === "auth" || last === "oauth")) return "none";
  const secret =
    ONE_TIME_WORDS.has(last) ||
    (ONE_TIME_QUALIFIABLE.has(last) && ONE_TIME_LABEL.test(words.join(" "))) ||
    // (`token` alone: see isSecretMember; `key` last: a key's name, `api_key`, `privateKey`, by
    // isStrongSecretName's; `cacheKey` is none)
    (!(words.length === 1 && last === "token") && isSecretName(last) && isStrongSecretName(name));
  if (!secret) return "none";
  // (a credential's token is never a JSON number: `max_token: 100` is a count)
  return /[^s]s$/.test(last) || last.endsWith("token") ? "text" : "any";
}

/** Last words of a member that sign or name a message, not open anything: `signature` (an e-mail's, `Best regards, Bob`). */
const NOT_SECRET_MEMBER_LAST = new Set(["signature"]);
/**
 * Words before `token` that make it a model's text token, a count of them or a page's cursor,
 * never a credential (`eos_token: "</s>"`, `pad_token`, `stop_token`, `max_token: 100`,
 * `output_token`, `NextToken`, `page_token`, `nextPageToken`).
 */
const NOT_A_CREDENTIAL_TOKEN = new Set([
  "bos", "eos", "eot", "eom", "unk", "pad", "sep", "mask", "cls", "stop", "start", "end", "begin", "special", "added",
  "image", "audio", "video", "vision", "tool", "think", "thinking", "im", "fim", "prefix", "suffix", "middle",
  "max", "min", "total", "input", "output", "prompt", "completion", "reasoning", "cached", "first", "last",
  "next", "prev", "previous", "page", "continuation", "cursor", "pagination", "sync",
]);

/** Last words of a label that name a one-time code by themselves (`OTP`, `totp`, `X-Passcode`). */
const ONE_TIME_WORDS = new Set(["otp", "totp", "hotp", "passcode", "otps", "totps", "hotps", "passcodes"]);
/** Last words of a label that name one only after a word that says so (`verification code`, `2FA code`, `one-time password`, `card PIN`). */
const ONE_TIME_QUALIFIABLE = new Set(["code", "codes", "pin", "password", "pass"]);
const ONE_TIME_QUALIFIERS =
  "(?:^|[^a-z0-9])(?:verification|verify|security|one[ _-]?time|[0-9]fa|two[ _-]?factor|tfa|mfa|otp|totp|sms|login|log[ _-]?in|sign[ _-]?in|auth|authentication|access|confirmation|reset|recovery|backup|pin|card|sim|atm)[ _.-]?";
const ONE_TIME_LABEL = new RegExp(`${ONE_TIME_QUALIFIERS}(?:codes?|pin|password|pass)$`);
/** What ends a text (lower case) before a list of codes: a one-time label in the plural and its ":", "=" or space, perhaps a line break (`recovery codes: `, `backup codes:\n`). */
const CODE_LIST_LABEL = new RegExp(`(?:${ONE_TIME_QUALIFIERS}codes|(?:^|[^a-z0-9])(?:passcodes|[th]?otps))["']?(?:[ \t]*[:=][ \t]*|[ \t]+(?:are:?[ \t]+)?|[ \t]*:[ \t]*\r?\n[ \t]*)["']?$`);
/** A code of a list: letters and digits, perhaps in groups split by hyphens (`1234-5678`, `1a2b3-c4d5e`). */
const LIST_CODE = /^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/;
/** The next code of a list: after spaces, a comma or semicolon, a line break (one of them at least); ending the word; 32 characters at most, as the first (sameCodeShape checks its hyphens). */
const NEXT_LIST_CODE = /[ \t]*[,;]?[ \t]*(?:\r?\n[ \t]*)?([A-Za-z0-9][A-Za-z0-9-]{0,31})(?![\w@/-]|[.:]\w)/y;

/**
 * The codes of a list after the first, which the `credential` rule took after a one-time label
 * in the plural (`recovery codes: 1234-5678 9876-5432`, `backup codes:` with one a line): each
 * separated from the one before by spaces, a comma or a line break, and of the first's shape (its
 * length, its hyphens at the same places, digits alone if it is; else with a digit), up to 64.
 * The list ends at the first word of another shape (`… 9876-5432 are shown once`). Until a review,
 * 2026-12-06, only the first code of such a list was redacted.
 */
function codeListFollowing(text: string, start: number, end: number): Array<[number, number]> {
  const first = text.slice(start, end);
  if (first.length > 32 || !LIST_CODE.test(first) || !/\d/.test(first)) return [];
  if (!CODE_LIST_LABEL.test(text.slice(Math.max(0, start - 64), start).toLowerCase())) return [];
  const digitsOnly = /^[\d-]+$/.test(first);
  const spans: Array<[number, number]> = [];
  const re = new RegExp(NEXT_LIST_CODE.source, "y");
  for (let at = end; spans.length < 64; ) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m === null || m[0].length === m[1]!.length) break; // (no separator: no next code)
    const code = m[1]!;
    if (!sameCodeShape(first, code, digitsOnly)) break;
    at = m.index + m[0].length;
    spans.push([at - code.length, at]);
  }
  return spans;
}

function sameCodeShape(first: string, code: string, digitsOnly: boolean): boolean {
  if (code.length !== first.length || (digitsOnly ? !/^[\d-]+$/.test(code) : !/\d/.test(code))) return false;
  for (let i = 0; i < code.length; i++) if ((code[i] === "-") !== (first[i] === "-")) return false;
  return true;
}
/** A label's last word that names a password (`password`, `PGPASSWORD`, `passwd`, `MYSQL_PWD`, `DB_PASS`). */
const PASSWORD_WORD = /(?:password|passwd|passphrase|pwd|pass)$/;

/**
 * Whether a value after a password's label that is no random credential's shape is still the
 * password: in an environment line (`DB_PASS=hunter`, `export PGPASSWORD=letmein`: a name in
 * capitals and "=" with no space, at a line's or word's start; any 4 characters but a boolean or
 * a command substitution) or map (`POSTGRES_PASSWORD: example`, alone on its line), in a connection string (`Server=db;Password=myPassword;`: any 4
 * characters), or elsewhere when it holds a password's symbols (`"Pa$$word!"`, `'aB$dEf!'`; with a
 * letter, or any in quotes) beyond a variable's sigil (`$password`, `@password`) or markdown
 * (`**required**`), and is no template (`<your-password>`, `{{ … }}`, `%env(…)%`) nor a mask
 * (`********`). Words and code stay: `password: string`, `password: "Enter your password"`.
 */
function passwordValue(value: string, label: string, match: string, text: string, start: number, valueStart: number): boolean {
  const before = start > 0 ? text[start - 1]! : "\n";
  if (/^[A-Z][A-Z0-9_]*$/.test(label) && /[\s"'`]/.test(before)) {
    if (envAssignment(value, label, match, text, start)) return true;
    // (a Compose file's or Kubernetes manifest's `environment:` map, `POSTGRES_PASSWORD: example`:
    // a value alone on its line, unquoted, and no capitalised word, so that a map of messages,
    // `RESET_PASSWORD: Reset password`, `LOGIN_PASSWORD: Password`, stays; not a bare `PASSWORD:`)
    if (/^[A-Za-z0-9_]*:[ \t]+$/.test(match) && !BARE_PASSWORD_NAME.test(label)) {
      const next = text[valueStart + value.length];
      if (next === undefined || next === "\n" || next === "\r") return value.length >= 4 && !ENV_NON_SECRET.test(value) && !/^[A-Z][a-z]*$/.test(value);
    }
  }
  const pair = /^[A-Za-z0-9_]*=$/.test(match); // `Password=`, no space nor quote: a connection string's pair
  if (pair && value.length >= 4 && (before === ";" || CONNECTION_STRING_NEXT.test(text.slice(valueStart + value.length, valueStart + value.length + 64)))) return true;
  if (value.length < 6 || TEMPLATE.test(value) || /^(.)\1*$/s.test(value)) return false;
  const core = value.replace(/^[$@*&:!~_]+/, "").replace(/[!?.*~_:]+$/, "");
  if (!PASSWORD_SYMBOL.test(core) || readsAsCode(core, undefined)) return false;
  const quote = text[valueStart - 1];
  return /[A-Za-z]/.test(core) || ((quote === '"' || quote === "'") && text[valueStart + value.length] === quote);
}
const BARE_PASSWORD_NAME = /^(?:PASSWORD|PASSWD|PASSPHRASE|PWD|PASS)$/;
const ENV_NON_SECRET = /^(?:true|false|null|nil|none|yes|no|on|off|undefined|enabled?|disabled?|auto|default|\$\(.*|`.*)$/is;

/**
 * Whether a value is an environment line's (`DB_PASS=hunter`, `export JWT_SECRET=mysecret`): a
 * name in capitals, "=" with no space before or after but an opening quote, at a line's or word's
 * start, and any value of 4 characters or more but a boolean, an expansion or a command
 * substitution. The caller decides which names (a password's; a token's, a secret's or a key's:
 * ENV_SECRET_LAST_WORD).
 */
function envAssignment(value: string, label: string, match: string, text: string, start: number): boolean {
  const before = start > 0 ? text[start - 1]! : "\n";
  return /^[A-Z][A-Z0-9_]*$/.test(label) && /[\s"'`]/.test(before) && /^[A-Za-z0-9_]*=["']?$/.test(match) && value.length >= 4 && !ENV_NON_SECRET.test(value);
}

/**
 * A name in an environment line whose value is a secret whatever its shape, beyond a password's:
 * one isStrongSecretName takes whose last word is a token's or a secret's (`JWT_SECRET`,
 * `API_TOKEN`, `GITHUB_TOKEN`, `AUTHTOKEN`) or a key's (`API_KEY`, `SECRET_KEY`, `PRIVATE_KEY`,
 * `AWS_SECRET_ACCESS_KEY`, `OPENAI_API_KEY`, `JWT_KEY`). A key of another name (`SORT_KEY`,
 * `PRIMARY_KEY`, `CACHE_KEY`) names an identifier as often, and isStrongSecretName refuses it;
 * `MAX_TOKENS` (its last word `tokens`) and `TOKEN_LIMIT` name no secret. (2026-12-06: until then
 * only a password's name was read so, and `JWT_SECRET=mysecret` was kept.)
 */
const ENV_SECRET_LAST_WORD = /(?:token|secret|key)$/;
/** What follows a connection string's value: its next `Name=` pair. */
const CONNECTION_STRING_NEXT = /^;[ \t]?[A-Za-z](?:[A-Za-z0-9 _]{0,30}[A-Za-z0-9_])?=(?!=)/;
const TEMPLATE = /^(?:\{\{|\{%|<|%\(|%env\(|#\{|\$\(|`)/i;
const PASSWORD_SYMBOL = /[!@#$%^&*+~|]/;

/**
 * A value that names where the credential is read from, not the credential: an environment
 * variable in code (`process.env.OPENAI_API_KEY`, `os.environ[...]`, `os.getenv(...)`, Symfony's `%env(DB_PASSWORD)%`) or a
 * shell's or template's (`$DB_PASS`, `${DB_PASSWORD}`). Code samples in chats hold these after
 * `apiKey =` and `password:`; until 2026-12-06 they were redacted, and the code unreadable. A
 * value only starting with "$" (`$ecret123`) is still read as a credential.
 */
const ENVIRONMENT_REFERENCE = /^(?:%env\(|process\.env[.[]|import\.meta\.env[.[]|os\.environ\b|os\.getenv\b|System\.getenv\b|ENV\[|\$\{[A-Za-z_][A-Za-z0-9_]*\}?$|\$[A-Z_][A-Z0-9_]*$)/;

/**
 * A URL's password (`postgres://user:sunshine@db/app`, `redis://:pass@host`), unless it is a
 * template or reference (`%s`, `$DB_PASS`, a mask of `*`): the pattern has already refused
 * `<password>`, `{password}`, `${DB_PASS}` and brackets (`[REDACTED:…]`, IPv6 hosts). Nor is an
 * image's tag before its digest (`docker://alpine:3.18@sha256:…`, as a workflow's `uses:` names
 * one: until 2026-12-06 the tag was redacted as a password).
 */
function urlPasswordAccept(value: string, match: string, text: string, index: number): number {
  const after = index + match.length + value.length;
  if (IMAGE_DIGEST.test(text.slice(after, after + 8))) return 0;
  return /^(?:%[sd]|\*+)$/.test(value) || TEMPLATE.test(value) || ENVIRONMENT_REFERENCE.test(value) ? 0 : value.length;
}
const IMAGE_DIGEST = /^@sha(?:256|384|512):/;

/**
 * What may precede a one-time code given before "is your … code": a line's, sentence's or
 * quote's start, or a colon (`Your code: 482913 is your …`); `the 2024 is your …` is no code.
 */
const CODE_FIRST = /(?:\n[ \t]*|["'(>][ \t]*|[:.!?][ \t]+)$/;
/** A digit and the words after it that a one-time code before its label needs. */
const CODE_FIRST_HINT = /\d[ \t]+(?:is[ \t]+your|to[ \t]+(?:sign|log|verify|confirm|auth)|for[ \t]+(?:sign|log|verif|confirm|auth))/i;

/** OpenAI keys are long random strings; "sk-learn-compatible-estimators" is not one. */
function openaiAccept(key: string): number {
  const body = key.slice(3);
  if (hasDigit(body) && hasUpper(body)) return key.length;
  return body.length >= 40 && hasUpper(body) && hasLower(body) ? key.length : 0;
}

const digitsOnly = (s: string): string => s.replace(/[^0-9+]/g, "");
const compactUpper = (s: string): string => s.replace(/\s+/g, "").toUpperCase();

// ---------------------------------------------------------------- detectors

// Token boundaries: a vendor key never starts or ends in the middle of a longer word or blob.
const TB = "(?<![A-Za-z0-9_-])";
const TE = "(?![A-Za-z0-9_-])";

function detector(d: Omit<Detector, "secretGroup" | "minLength"> & { minLength?: number }): Detector {
  return Object.freeze({ ...d, minLength: d.minLength ?? 1, secretGroup: d.pattern.source.includes("(?<secret>") });
}

/** Built-in detectors in priority order (see the module comment). */
export const BUILTIN_DETECTORS: readonly Detector[] = Object.freeze([
  detector({
    name: "private_key",
    minLength: 27,
    // through the END line; a block cut off (a truncated preview) through whatever still looks
    // like key material: base64, "Name: value" header lines, real or JSON-escaped line breaks,
    // spaces and tabs before more base64 (a block flattened to one line; until 2026-12-04 its
    // body after the first space was kept). The search for END stops at the next BEGIN, so many
    // headers without END stay linear.
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:(?:[^-]|-(?!----BEGIN ))*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|(?:[A-Za-z0-9+/=]|[ \t]+(?=[A-Za-z0-9+/=])|\r?\n|\\[rn]|[A-Za-z-]+: [^\r\n\\]*)*)/g,
    hint: (t) => t.includes("-----BEGIN"),
  }),
  detector({
    name: "jwt",
    minLength: 12,
    // JWS (3 segments; an unsigned one has an empty third) or JWE (5)
    pattern: new RegExp(`${TB}eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]{2,}\\.[A-Za-z0-9_-]*(?:\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+)?${TE}`, "g"),
    hint: (t) => t.includes("J") && t.includes("eyJ"),
    accept: (c) => (jwtHeaderValid(c) ? c.length : 0),
  }),
  detector({
    name: "anthropic",
    minLength: 27,
    pattern: new RegExp(`${TB}sk-ant-[A-Za-z0-9_-]{20,}`, "g"),
    hint: (t) => t.includes("k-ant-"),
  }),
  detector({
    name: "openai",
    minLength: 23,
    pattern: new RegExp(`${TB}sk-(?!ant-)[A-Za-z0-9_-]{20,}`, "g"),
    hint: (t) => t.includes("k-") && t.includes("sk-"),
    accept: openaiAccept,
  }),
  detector({
    name: "github",
    minLength: 33,
    pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,247})(?![A-Za-z0-9_])/g,
    hint: (t) => t.includes("_") && /gh[pousr]_|github_pat_/.test(t),
  }),
  detector({
    name: "google",
    minLength: 39,
    pattern: new RegExp(`${TB}AIza[0-9A-Za-z_-]{35}${TE}`, "g"),
    hint: (t) => t.includes("AIza"),
  }),
  detector({
    name: "stripe",
    minLength: 18,
    // secret and restricted keys and webhook secrets; publishable pk_ keys are public by design
    pattern: /(?<![A-Za-z0-9_])(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,247}|whsec_[0-9A-Za-z]{24,})(?![A-Za-z0-9_])/g,
    hint: (t) => t.includes("_") && (t.includes("_live_") || t.includes("_test_") || t.includes("whsec_")),
  }),
  detector({
    name: "slack",
    minLength: 15,
    pattern: new RegExp(
      // (a webhook URL also without its scheme, as pasted from a config; until 2026-12-04 only with one)
      `${TB}(?:xox[abeoprs]-[0-9A-Za-z-]{10,}|xapp-\\d-[0-9A-Za-z-]{10,})|(?:https?://|(?<![A-Za-z0-9_.-]))hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+`,
      "g",
    ),
    hint: (t) => t.includes("xox") || t.includes("xapp-") || t.includes("hooks.slack"),
  }),
  detector({
    name: "aws_access_key",
    minLength: 20,
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    hint: (t) => t.includes("AKIA") || t.includes("ASIA") || t.includes("ABIA") || t.includes("ACCA"),
  }),
  detector({
    name: "aws_secret_key",
    minLength: 48,
    // only after a label: a bare 40-character base64 string is indistinguishable from a digest
    pattern: /(?:aws.?)?secret.?(?:access.?)?key["']?\s*[:=]\s*["']?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi,
    hint: (t) => t.includes("cret") || t.includes("CRET"),
  }),
  detector({
    name: "bearer",
    minLength: 14,
    // After an Authorization label the credential follows any scheme (ApiKey, SSWS, Bot, OAuth,
    // Negotiate: until 2026-12-06 only Bearer, Basic and Token were known, and the others' keys
    // were written in clear), or is a list of auth-params (Digest, AWS4-HMAC-SHA256), which goes
    // whole: see bearerAccept.
    pattern: new RegExp(`(?:\\bbearer\\s+|\\bauthorization["']?\\s*[:=]\\s*["']?(?:(?:bearer|basic|token)\\s+)?)(?<secret>${AUTH_PARAMS}|(?:[A-Za-z][A-Za-z0-9_-]{0,63}[ \\t]+)?(?:${AUTH_PARAMS}|[A-Za-z0-9\\-._~+/]{8,}=*))`, "dgi"),
    // the hint knows the usual spellings; the pattern itself ignores case
    // (and then, in any case, `aUtHoRiZaTiOn:`: until 2026-12-06 such a label was never read)
    // (and `bEaReR …` with no label, looked for around each "b": until 2026-12-06 never read)
    hint: (t) =>
      t.includes("bearer") || t.includes("Bearer") || t.includes("BEARER") || t.includes("zation") || t.includes("ZATION") ||
      containsAnyCase(t, "authorization", 7, "zZ") || containsAnyCase(t, "bearer", 0, "bB"),
    accept: bearerAccept,
  }),
  detector({
    name: "cookie",
    minLength: 10,
    // a Cookie / Set-Cookie header's pairs after its label (as text, or an object's `cookie`
    // member read with its key): only `name=value` pairs, so "cookie: chocolate chip" stays
    // (until 2026-12-05 no rule knew cookies, and session cookies were written in plain text
    // wherever `paths` did not name them)
    pattern: /\b(?:set-)?cookie["']?\s*[:=]\s*["']?(?<secret>[!#$%&*+.^_`|~0-9A-Za-z-]+=[^;\s"'\\]*(?:;[ \t]?[!#$%&*+.^_`|~0-9A-Za-z-]+(?:=[^;\s"'\\]*)?)*)/dgi,
    // (and in any case, `CoOkIe:`, looked for around each "k": until 2026-12-06 never read)
    hint: (t) => t.includes("ookie") || t.includes("OOKIE") || containsAnyCase(t, "cookie", 3, "kK"),
  }),
  detector({
    name: "credential",
    minLength: 6,
    // a URL's password: what is between the user's ":" and the "@" before the host, the user,
    // scheme and host staying (`postgres://user:[REDACTED:credential]@db/app`); the last "@"
    // before the path ends it, as URL parsers read it (`p@ss@host`). The pattern starts at the
    // rare "://" and each part stops at a "/", so a text of many costs each its own authority.
    // (Until 2026-12-06 no rule knew it: the password was kept, or read as an e-mail's local
    // part with the host: `https://alice:[REDACTED:email]/`.)
    // A password holding "/", "?" or "#" (`postgres://user:p/ss#w?rd@db/app`, unencoded as a URL
    // parser needs it: they end the authority there, and the URL fails or keeps the rest as its
    // path, but the text still carries the password) runs to the first "@" after which a host
    // ends at a "/", "?", "#", ":" (a port), a space or the text's end, 128 characters at most
    // after its first part; never after a port (`http://host:8080/x?to=bob@example.com`) or a
    // port's placeholder (`:port/`, `:PORT/`, `:$PORT/`), nor across another "://" (so that a text
    // of many costs each the way to the next). (Until 2026-12-06 such a password was kept.)
    pattern:
      /:\/\/[^\s/?#@:"'<>\\[\]{}]*:(?=(?<secret>[^\s/?#"'<>\\[\]{}]+(?=@)|(?!(?:\d*|[Pp]ort|PORT|\$[A-Za-z_]\w*)[/?#])[^\s/?#@"'<>\\[\]{}]+[/?#](?:(?!:\/\/)[^\s"'<>\\[\]{}]){0,128}?(?=@[^\s/?#@"'<>\\[\]{}]*(?:[/?#\s"'<>\\[\]{}]|$))))/g,
    secretStart: (m) => m.index + m[0].length,
    hint: (t) => t.includes("://"),
    // (the first alternative's run is greedy: up to the last "@" before a "/", "?" or "#", so that
    // a password holding one goes whole; the second's is lazy: up to the first "@" a host follows)
    accept: urlPasswordAccept,
  }),
  detector({
    name: "credential",
    minLength: 14,
    // a one-time code before its label: `482913 is your verification code`, `Use 482913 to sign
    // in`, `G-482913 is your Google verification code` (as text messages write it; until
    // 2026-12-06 only a code after its label was read): "is your … code" after a line's,
    // sentence's or quote's start, "to sign in" (log in, verify, confirm) after "use" or
    // "enter"; so that `404 is the status code` and `use 8080 to connect` stay. A code split by a
    // space, two groups of 3 or of 4 digits (`482 913 is your code`), goes whole (2026-12-06).
    pattern:
      /(?:(?<=(?<![\w.,:/-])[A-Z]-)|(?<![\w.,:/-]))(?<secret>\d{4,10}|\d{3,5}-\d{3,5}|\d{3} \d{3}|\d{4} \d{4})(?:[ \t]+is[ \t]+your[ \t]+(?:[A-Za-z0-9-]+[ \t]+){0,3}?(?:code|OTP|PIN|passcode|one-time[ \t]+password)\b|[ \t]+(?:to|for)[ \t]+(?:sign[ \t-]?in|log[ \t-]?in|verify|verification|confirm|authenticate|authentication)\b)/dgi,
    hint: (t) => CODE_FIRST_HINT.test(t),
    accept: (c, match, text, index) => {
      // (a line break before the text's start; a sender's letter before the code, Google's `G-482913 is your …`)
      const before = ((index <= 16 ? "\n" : "") + text.slice(Math.max(0, index - 16), index)).replace(/[A-Z]-$/, "");
      // (`482913 is your code` at a sentence's start; `Use 482913 to sign in` after a verb)
      if (/^[ \t]+is/i.test(match.slice(c.length))) return CODE_FIRST.test(before) ? c.length : 0;
      return /[^A-Za-z](?:use|enter|type|input)[ \t]+$/i.test(before) ? c.length : 0;
    },
  }),
  detector({
    name: "credential",
    minLength: 8,
    // a value after a label that names a credential, whatever the value's shape: a header line
    // (`x-api-key: …`, `api-key: …`), a URL's query or fragment parameter (`?api_key=…`,
    // `&sig=…`, `#access_token=…`), an assignment (`password=…`, `"client_secret": "…"`), or an
    // object's member read with its key (the label is read by credentialAccept). The value is a
    // lookahead, so that a label rejected (`data=`) does not hide one inside its value
    // (`?api_key=`); it holds "=" only at its end (base64 padding), and at most 1 KiB of it is
    // read (an AWS session token, the longest credential commonly sent, is under 1 KiB), so that
    // a text of many labels costs each one its own value, not the rest of the text. (Until 2026-12-06 no rule knew these labels: with
    // `redact` on, Anthropic's and Azure's API-key headers and keys in query strings were
    // written in clear; only `paths` the app named, and never inside a URL, caught them)
    // A one-time code may follow "is" (`your verification code is 482913`: credentialAccept
    // takes that only for one). A value in quotes runs to its closing quote when it has no space
    // (`"Tr0ub4dor&3"`: until 2026-12-06 it was cut at the "&", and its end kept), the quote that
    // opened it: one of the other kind is part of it (`"aB3$xYz'9"`: it was cut at the "'", its
    // end kept; found by review, 2026-12-06). A one-time code may stand on the line after its
    // label's ":" (`backup codes:` and a code a line: credentialAccept takes that only for one),
    // and a list of codes after one label goes code by code (codeListFollowing).
    pattern: /(?:key|sig|code|pin|auth|bearer|jwt|sess|pwd|pass|mfa|nonce|verifier|appid|token|secret|cookie|otp|credential|assertion)[A-Za-z0-9_.%-]{0,63}?["']?(?:[ \t]*[:=][ \t]*|[ \t]+(?:is|are):?[ \t]+|[ \t]+|[ \t]*:[ \t]*\r?\n[ \t]*)["']?(?=(?<secret>(?<=")[^\s"\\[][^\s"\\]{0,1022}(?=")|(?<=')[^\s'\\[][^\s'\\]{0,1022}(?=')|[^\s"'&,;)\]}>#?\\[=][^\s"'&,;)\]}>#?\\=]{0,1023}=*))/gi,
    // (the value starts where the match ends: no `d` flag, whose indices cost the scan 3x)
    secretStart: (m) => m.index + m[0].length,
    accept: credentialAccept,
    following: codeListFollowing,
  }),
  detector({
    name: "email",
    minLength: 6,
    // the regex finds "@domain" (fast: it starts at a rare literal); the local part is walked
    // back by hand, as a leading [local]{1,64} would be tried at every word of the text
    // (no lookahead after the top-level domain: "bob@example.com-Alice", "bob@example.com2" are
    // the address and what follows it)
    // (letters and digits of any script, as in "jürgen@exämple.de": until 2026-12-04 only ASCII,
    // so such a domain was no address and such a local part was cut at its last non-ASCII letter)
    pattern: /@(?:[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]{0,61}[\p{L}\p{M}\p{N}])?\.)+\p{L}[\p{L}\p{M}]{1,62}/gu,
    hint: (t) => t.includes("@"),
    extendLeft: emailStart,
    normalize: (s) => s.toLowerCase(),
  }),
  detector({
    name: "iban",
    minLength: 15,
    pattern: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])/g,
    accept: ibanExtent,
    normalize: compactUpper,
  }),
  detector({
    name: "credit_card",
    minLength: 13,
    // 13-19 digits, optional single spaces or dashes between; no scheme starts with 0, 1, 7, 8 or 9
    pattern: /(?<![A-Za-z0-9.-])[2-6](?:[ -]?\d){12,18}(?![A-Za-z0-9]|[.-]\d)/g,
    hint: (_t, p) => p.digitRun,
    accept: cardExtent,
    normalize: digitsOnly,
  }),
  detector({
    name: "us_ssn",
    minLength: 11,
    // area 000, 666 and 9xx, group 00 and serial 0000 are never issued
    pattern: /(?<![A-Za-z0-9-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![A-Za-z0-9]|-\d)/g,
    hint: (_t, p) => p.digitRun,
    normalize: digitsOnly,
  }),
  detector({
    name: "phone",
    minLength: 9,
    // E.164 / international (+cc ...), North American (area and exchange 2-9), or national
    // (trunk 0, a non-zero area code, one consistent separator). Never a bare digit run without
    // "+": order numbers, timestamps and ids look exactly like that.
    pattern:
      /(?<![A-Za-z0-9+._/-])(?:\+[1-9]\d{0,14}(?:[ .-]?\(\d{1,5}\)[ .-]?\d{1,8})?(?:[ .-]\d{1,8}){0,6}|(?:1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}|0[1-9]\d{0,3}(?<sep>[ .-])\d{2,8}(?:\k<sep>\d{2,8}){0,4})(?![A-Za-z0-9]|[.-]\d)/g,
    hint: (_t, p) => p.digitRun,
    accept: phoneAccept,
    normalize: digitsOnly,
  }),
]);

/**
 * Names of the built-in rules, in the order they claim text.
 *
 * @example
 * new Redactor({ rules: BUILTIN_RULE_NAMES.filter((r) => r !== "phone") }) // all but phone numbers
 */
export const BUILTIN_RULE_NAMES = Object.freeze([...new Set(BUILTIN_DETECTORS.map((d) => d.name))]) as readonly BuiltinRuleName[];

/** One built-in rule's name, e.g. `"email"` or `"aws_access_key"`; see {@link BUILTIN_RULE_NAMES}. */
export type BuiltinRuleName =
  | "private_key"
  | "jwt"
  | "anthropic"
  | "openai"
  | "github"
  | "google"
  | "stripe"
  | "slack"
  | "aws_access_key"
  | "aws_secret_key"
  | "bearer"
  | "cookie"
  | "credential"
  | "email"
  | "iban"
  | "credit_card"
  | "us_ssn"
  | "phone";
