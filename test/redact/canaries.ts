/**
 * Canary secrets and personal data for every built-in redaction rule. Each canary is a context
 * (`text`) and the part that must never survive (`secret`). The card numbers, IBANs and keys are
 * public test values or seeded random strings, never real credentials; checksums come from the
 * issuers' published examples, not from the code under test.
 */
import type { BuiltinRuleName } from "../../src/pipeline/redact.js";

export interface Canary {
  readonly rule: BuiltinRuleName;
  readonly text: string;
  readonly secret: string;
}

/** Seeded alphanumeric strings (mulberry32), so canaries are stable across runs. */
export function seededChars(seed: number, length: number, alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"): string {
  let a = seed >>> 0;
  let out = "";
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out += alphabet[Math.floor(r * alphabet.length)];
  }
  return out;
}

const b64url = (o: object): string => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: "user-42", name: "Alice", iat: 1516239022 })}.${seededChars(1, 43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}`;
const jwtNone = `${b64url({ alg: "none" })}.${b64url({ sub: "x" })}.`;

const RSA_KEY = [
  "-----BEGIN RSA PRIVATE KEY-----",
  "MIIEowIBAAKCAQEA" + seededChars(2, 48),
  seededChars(3, 64),
  "-----END RSA PRIVATE KEY-----",
].join("\n");
const EC_KEY_ESCAPED = `-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEI${seededChars(4, 40)}\\n-----END EC PRIVATE KEY-----`;
const ENCRYPTED_KEY = [
  "-----BEGIN ENCRYPTED PRIVATE KEY-----",
  "Proc-Type: 4,ENCRYPTED",
  "DEK-Info: AES-256-CBC,AB12CD34EF56",
  "",
  seededChars(5, 64),
  "-----END ENCRYPTED PRIVATE KEY-----",
].join("\n");
const PGP_KEY = `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF${seededChars(6, 60)}\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----`;

export const CANARIES: readonly Canary[] = [
  { rule: "email", text: "contact alice.smith@example.com today", secret: "alice.smith@example.com" },
  { rule: "email", text: "cc: First.Last+billing@sub.example.co.uk.", secret: "First.Last+billing@sub.example.co.uk" },
  { rule: "email", text: '{"to":"BOB_99@EXAMPLE.ORG"}', secret: "BOB_99@EXAMPLE.ORG" },

  { rule: "phone", text: "call +1 (415) 555-2671 now", secret: "415) 555-2671" },
  { rule: "phone", text: "mobile: +44 20 7946 0958", secret: "20 7946 0958" },
  { rule: "phone", text: "E.164 +14155552671.", secret: "14155552671" },
  { rule: "phone", text: "office 415.555.2671 ext", secret: "415.555.2671" },
  { rule: "phone", text: "US (212) 555-0199", secret: "555-0199" },
  { rule: "phone", text: "London 020 7946 0958", secret: "7946 0958" },
  { rule: "phone", text: "Paris 06 12 34 56 78", secret: "06 12 34 56 78" },
  { rule: "phone", text: "Berlin +49 30 901820", secret: "30 901820" },
  { rule: "phone", text: "toll free 1-800-555-0199", secret: "800-555-0199" },

  { rule: "credit_card", text: "visa 4111 1111 1111 1111 exp 12/29", secret: "1111 1111 1111" },
  { rule: "credit_card", text: "mc 5555-5555-5555-4444", secret: "5555-5555-5555-4444" },
  { rule: "credit_card", text: "amex 378282246310005", secret: "378282246310005" },
  { rule: "credit_card", text: "discover=6011111111111117;", secret: "6011111111111117" },
  { rule: "credit_card", text: "jcb 3530 1113 3330 0000", secret: "3530 1113 3330 0000" },
  { rule: "credit_card", text: "visa 4012888888881881 12/29", secret: "4012888888881881" },

  { rule: "iban", text: "IBAN DE89 3704 0044 0532 0130 00 AND BIC COBADEFFXXX", secret: "3704 0044 0532 0130" },
  { rule: "iban", text: "pay to GB82WEST12345698765432.", secret: "GB82WEST12345698765432" },
  { rule: "iban", text: "FR7630006000011234567890189", secret: "FR7630006000011234567890189" },
  { rule: "iban", text: "NL91 ABNA 0417 1643 00", secret: "0417 1643 00" },

  { rule: "us_ssn", text: "SSN 123-45-6789", secret: "123-45-6789" },
  { rule: "us_ssn", text: "ssn=219-09-9999;", secret: "219-09-9999" },

  { rule: "jwt", text: `token ${jwt} expired`, secret: jwt.split(".")[1]! },
  { rule: "jwt", text: `unsigned ${jwtNone} here`, secret: jwtNone.split(".")[1]! },

  { rule: "bearer", text: "Authorization: Bearer a9f8e7d6c5b4a3f2e1d0", secret: "a9f8e7d6c5b4a3f2e1d0" },
  { rule: "bearer", text: 'headers: {"authorization": "Basic dXNlcjpwYXNzd29yZA=="}', secret: "dXNlcjpwYXNzd29yZA" },
  { rule: "bearer", text: `curl -H "Bearer ${seededChars(7, 32)}"`, secret: seededChars(7, 32) },

  { rule: "cookie", text: "Cookie: session=abc123def456; theme=dark", secret: "abc123def456" },
  { rule: "cookie", text: "Set-Cookie: sid=s%3A9f8e7d6c5b4a; Path=/; HttpOnly", secret: "9f8e7d6c5b4a" },
  { rule: "cookie", text: '{"cookie": "csrftoken=Zx81kq0PL2; sessionid=77ab"}', secret: "Zx81kq0PL2" },

  { rule: "credential", text: `x-api-key: ${seededChars(14, 40)}`, secret: seededChars(14, 40) },
  { rule: "credential", text: `GET /v1/search?q=cats&api_key=${seededChars(15, 24)}&page=2`, secret: seededChars(15, 24) },

  { rule: "private_key", text: `key:\n${RSA_KEY}\nthanks`, secret: seededChars(3, 64) },
  { rule: "private_key", text: `{"pem":"${EC_KEY_ESCAPED}"}`, secret: seededChars(4, 40) },
  { rule: "private_key", text: ENCRYPTED_KEY, secret: "DEK-Info" },
  { rule: "private_key", text: PGP_KEY, secret: seededChars(6, 60) },
  // a preview cut off inside the key: everything from BEGIN on goes
  { rule: "private_key", text: `here: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA${seededChars(8, 20)}`, secret: seededChars(8, 20) },

  { rule: "openai", text: `OPENAI_API_KEY=sk-proj-${seededChars(9, 156)}`, secret: seededChars(9, 156) },
  { rule: "openai", text: `key sk-${seededChars(10, 20)}T3BlbkFJ${seededChars(11, 20)}`, secret: seededChars(11, 20) },
  { rule: "openai", text: `sk-svcacct-${seededChars(12, 60)}`, secret: seededChars(12, 60) },

  { rule: "anthropic", text: `ANTHROPIC_API_KEY="sk-ant-api03-${seededChars(13, 93)}AA"`, secret: seededChars(13, 93) },
  { rule: "anthropic", text: `sk-ant-admin01-${seededChars(14, 40)}`, secret: seededChars(14, 40) },

  { rule: "aws_access_key", text: "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", secret: "IOSFODNN7EXAMPLE" },
  { rule: "aws_access_key", text: `temp ASIA${seededChars(15, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")} session`, secret: seededChars(15, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") },

  { rule: "aws_secret_key", text: "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
  { rule: "aws_secret_key", text: `{"SecretAccessKey": "${seededChars(16, 40)}"}`, secret: seededChars(16, 40) },
  { rule: "aws_secret_key", text: `AWS_SECRET_ACCESS_KEY=${seededChars(17, 40)}`, secret: seededChars(17, 40) },

  { rule: "github", text: `GITHUB_TOKEN=ghp_${seededChars(18, 36)}`, secret: seededChars(18, 36) },
  { rule: "github", text: `oauth gho_${seededChars(19, 36)}.`, secret: seededChars(19, 36) },
  { rule: "github", text: `https://ghs_${seededChars(20, 36)}@github.com/o/r.git`, secret: seededChars(20, 36) },
  { rule: "github", text: `github_pat_11${seededChars(21, 20)}_${seededChars(22, 59)}`, secret: seededChars(22, 59) },

  { rule: "google", text: `https://maps.googleapis.com/maps/api/js?key=AIza${seededChars(23, 35)}&callback=init`, secret: seededChars(23, 35) },

  { rule: "stripe", text: `Stripe.apiKey = "sk_live_${seededChars(24, 24)}";`, secret: seededChars(24, 24) },
  { rule: "stripe", text: `rk_test_${seededChars(25, 32)}`, secret: seededChars(25, 32) },
  { rule: "stripe", text: `webhook whsec_${seededChars(26, 32)}`, secret: seededChars(26, 32) },

  { rule: "slack", text: `SLACK_BOT_TOKEN=xoxb-123456789012-1234567890123-${seededChars(27, 24)}`, secret: seededChars(27, 24) },
  { rule: "slack", text: `user token xoxp-${seededChars(28, 40, "0123456789")}`, secret: seededChars(28, 40, "0123456789") },
  { rule: "slack", text: `post to https://hooks.slack.com/services/T00000000/B00000000/${seededChars(29, 24)} please`, secret: seededChars(29, 24) },
];
