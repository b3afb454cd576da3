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

export function newId(now = Date.now()): string {
  if (now <= lastTime) {
    // same (or earlier, clock stepped back) millisecond: increment the random part
    now = lastTime;
    let i = 15;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i >= 0) lastRandom[i]!++;
  } else {
    lastTime = now;
    for (let i = 0; i < 16; i++) lastRandom[i] = randomByte() & 31;
  }
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  let rand = "";
  for (let i = 0; i < 16; i++) rand += ALPHABET[lastRandom[i]!]!;
  return time + rand;
}

/** Ids callers may supply: safe as a file-name part, never a path. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
