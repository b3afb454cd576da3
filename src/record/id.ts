import { randomFillSync } from "node:crypto";

// ULID (https://github.com/ulid/spec): 48-bit millisecond time + 80 random bits, Crockford base32,
// monotonic within one millisecond, so ids sort by creation time as plain strings.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const pool = Buffer.allocUnsafe(4096);
let poolPos = pool.length;

function randomByte(): number {
  if (poolPos >= pool.length) {
    randomFillSync(pool);
    poolPos = 0;
  }
  return pool[poolPos++]!;
}

let lastTime = -1;
const lastRandom = new Uint8Array(16); // 16 base32 digits of randomness
let timePart = "";
let randPart = "";

export function newId(now = Date.now()): string {
  if (now <= lastTime) {
    // same (or earlier, clock stepped back) millisecond: increment the random part, re-encode only the digits that changed
    let i = 15;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i >= 0) lastRandom[i]!++;
    const from = Math.max(i, 0);
    let tail = "";
    for (let j = from; j < 16; j++) tail += ALPHABET[lastRandom[j]!]!;
    randPart = randPart.slice(0, from) + tail;
    return timePart + randPart;
  }
  lastTime = now;
  let t = now;
  timePart = "";
  for (let i = 0; i < 10; i++) {
    timePart = ALPHABET[t % 32]! + timePart;
    t = Math.floor(t / 32);
  }
  randPart = "";
  for (let i = 0; i < 16; i++) {
    lastRandom[i] = randomByte() & 31;
    randPart += ALPHABET[lastRandom[i]!]!;
  }
  return timePart + randPart;
}

/** Ids callers may supply: safe as a file-name part, never a path. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * @internal Set (to true) on a chat input by the kit's integrations whose `id` they made with
 * {@link newId} for that one call: no content files can exist for a fresh id, so the logger skips
 * the check it makes for an id the app supplies (a `stat` of the content directory per record,
 * ~2 µs). Module-local: an input made by another copy of the package is checked as usual.
 */
export const kFreshId: unique symbol = Symbol("audit-logger.fresh-id");

/** @internal Marks `input`'s id as made by {@link newId} for this call (see {@link kFreshId}). */
export function markFreshId<T extends object>(input: T): T {
  (input as { [kFreshId]?: true })[kFreshId] = true;
  return input;
}
