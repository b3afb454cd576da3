/**
 * @internal Names that say their value is a credential (headers, query parameters, members,
 * labels in text): the one rule of integrations/fetch.ts, the decorators' thrown messages
 * (src/secret-name.ts) and the `credential` redaction rule (./redact-detectors.ts). Here, with
 * no imports, so that the detectors can use it (moved from src/secret-name.ts, 2026-12-06).
 */

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
  // (plurals of the one-time words, as the text rules read them since 2026-12-06: `recovery_codes`,
  // `X-Backup-Codes`; `otps`, `totps`, `passcodes` end below. They were recorded in clear; found by
  // the new-user pass, 2026-12-06)
  "codes",
]);
const SECRET_ENDINGS = [
  "token", "secret", "secrets", "password", "passwd", "passcode", "passphrase", "apikey", "authkey", "accesskey", "privatekey",
  "secretkey", "sessionid", "sessionkey", "signature", "credential", "credentials", "assertion", "cookie", "cookies", "auth", "otp",
  "otps", "passcodes",
];

/**
 * Case that alternates within words (`aUtHoRiZaTiOn`, `PaSsWoRd`, `x-ApI-kEy`): two or more
 * capitals after a small letter that start no camelCase word of 2 letters or more (`sessionID`
 * has one). Such a name is read both ways, at capitals and at separators only. (Until 2026-12-06
 * it was split at every capital, into words of a letter or two, and named no credential.)
 */
const ODD_CASE = /[a-z][A-Z](?![a-z]{2}).*[a-z][A-Z](?![a-z]{2})/s;

/** The ways to read a name's words: lower case, trailing digits dropped (`cookie2`); see SECRET_WORDS. */
function nameReadings(name: string): string[][] {
  const camel = nameWords(name);
  return ODD_CASE.test(name) ? [camel, separatedWords(name)] : [camel];
}

/** The words of a name split at separators and camelCase, lower case, trailing digits dropped (`token_count`: token, count). */
export function nameWords(name: string): string[] {
  return separatedWords(name.replace(/([a-z0-9])([A-Z])/g, "$1 $2"));
}

function separatedWords(name: string): string[] {
  const words: string[] = [];
  for (const whole of name.toLowerCase().split(/[^a-z0-9]+/)) {
    const word = whole.replace(/[0-9]+$/, "");
    if (word !== "") words.push(word);
  }
  return words;
}

const isSecretWord = (word: string): boolean => SECRET_WORDS.has(word) || SECRET_ENDINGS.some((end) => word.endsWith(end));

/** Whether a header, parameter or member of this name carries a credential (see SECRET_WORDS; any case). */
export function isSecretName(name: string): boolean {
  return nameReadings(name).some((words) => words.some(isSecretWord));
}


/**
 * Words that name a credential in a URL's parameters (`?key=`, `&sig=`, `?session=`) but, as a
 * member or label of their own, as often name an identifier (`sessionId`, `cacheKey`, `pin`,
 * `nonce`): see isStrongSecretName.
 */
const AMBIGUOUS_WORDS = new Set(["key", "code", "codes", "pin", "session", "sess", "sessid", "nonce", "verifier", "mfa", "sig", "pass"]);
/** Names that end in one of these, their separators dropped, are credentials: `x-api-key`, `signing_key`. */
const KEY_NAMES = /(?:apikey|accesskey|privatekey|secretkey|authkey|signingkey|masterkey|encryptionkey|passkey|passcode)$/;

/**
 * Whether a name says its value is a credential wherever it stands (a header, a member, a label in
 * text): isSecretName without the names that hold only an ambiguous word (`sessionId`, `cacheKey`,
 * `key`, `pinned`: identifiers as often), unless the whole name ends as a key's does (`x-api-key`,
 * `apiKey`, `signing_key`). The `credential` redaction rule asks this outside a URL's parameters,
 * where isSecretName decides.
 *
 * @example
 * isStrongSecretName("x-api-key") // true
 * isStrongSecretName("sessionId") // false (isSecretName says true)
 */
export function isStrongSecretName(name: string): boolean {
  const readings = nameReadings(name);
  if (!readings.some((words) => words.some(isSecretWord))) return false;
  if (readings.some((words) => words.some((word) => !AMBIGUOUS_WORDS.has(word) && isSecretWord(word)))) return true;
  // (`pass` ending a name after the name of what it opens is a password's: `DB_PASS`, `smtpPass`;
  // alone it is as often a count, `pass: 12, fail: 0`; see passNameKind. Until 2026-12-06 `DB_PASS=…`
  // was no label, and then until a review that day any word before it made one: `first_pass: 12345`)
  if (readings.some((words) => passWords(words) === "password")) return true;
  return KEY_NAMES.test(name.toLowerCase().replace(/[^a-z0-9]/g, ""));
}

/**
 * Words before a last `pass` that say whose password it is: a service, a store or an account
 * (`DB_PASS`, `SMTP_PASS`, `MYSQL_PASS`, `REDIS_PASS`, `smtpPass`, `ADMIN_PASS`, `KEYSTORE_PASS`).
 */
const PASS_OWNERS = new Set([
  "db", "database", "datasource", "sql", "mysql", "mariadb", "mssql", "pg", "postgres", "postgresql", "psql", "oracle",
  "redis", "mongo", "mongodb", "couchdb", "cassandra", "influx", "influxdb", "elastic", "elasticsearch", "es", "opensearch",
  "kafka", "rabbit", "rabbitmq", "amqp", "mq", "broker", "smtp", "imap", "pop", "mail", "email", "ftp", "sftp", "ssh",
  "ldap", "proxy", "api", "app", "vault", "keystore", "truststore", "store", "key", "cert", "ssl", "tls", "jks", "pfx",
  "gpg", "pgp", "wallet", "admin", "root", "user", "username", "login", "account", "service", "client", "server",
  "master", "sa", "sys", "sudo", "superuser", "owner", "registry", "docker", "git", "nexus", "jenkins", "wifi", "wpa",
  "sasl", "bind", "basic", "http", "web", "my",
]);
/**
 * Words before a last `pass` that make it a stage, a count or a ticket, never a password
 * (`first_pass`, `SKIP_PASS`, `render_pass`, `multiPass`, `boarding_pass`).
 */
const NOT_A_PASSWORD_PASS = new Set([
  "first", "second", "third", "last", "final", "next", "prev", "previous", "single", "double", "multi", "two", "one",
  "skip", "by", "render", "shadow", "depth", "lighting", "compile", "build", "lint", "test", "tests", "boarding", "bus",
  "day", "season",
]);

/** What one reading of a name says by a last `pass` after other words (see passNameKind). */
function passWords(words: readonly string[]): "password" | "shape" | "none" | undefined {
  const n = words.length;
  if (n < 2 || words[n - 1] !== "pass") return undefined;
  const before = words[n - 2]!;
  return PASS_OWNERS.has(before) ? "password" : NOT_A_PASSWORD_PASS.has(before) ? "none" : "shape";
}

/**
 * How a name whose last word is `pass` after others names a password (found by review,
 * 2026-12-06: `first_pass: 12345` and `SKIP_PASS=12345` were redacted as passwords): after what
 * it opens (PASS_OWNERS: `DB_PASS`, `smtpPass`, `ADMIN_PASS`) it is one, "password", whatever the
 * value; after a stage's, count's or ticket's word (`first_pass`, `skip_pass`, `render_pass`,
 * `boarding_pass`) never, "none"; after any other word (`GRAFANA_PASS`, `custom_pass`) only for a
 * value that reads as a credential, "shape" (letters and digits, not digits alone: a count).
 * Undefined for any other name, or one another word of makes a credential's (`auth_pass`,
 * `token_pass`).
 *
 * @example
 * passNameKind("DB_PASS")    // "password"
 * passNameKind("first_pass") // "none"
 * passNameKind("pass")       // undefined
 */
export function passNameKind(name: string): "password" | "shape" | "none" | undefined {
  const readings = nameReadings(name);
  if (readings.some((words) => words.some((word, i) => i < words.length - 1 && !AMBIGUOUS_WORDS.has(word) && isSecretWord(word)))) return undefined;
  let kind: "password" | "shape" | "none" | undefined;
  for (const words of readings) {
    const k = passWords(words);
    if (k === "password") return k;
    if (k === "shape" || kind === undefined) kind = k ?? kind;
  }
  return kind;
}
