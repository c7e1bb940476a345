/**
 * Password hashing with scrypt (node:crypto; RFC 7914), stored as
 * `scrypt$N$r$p$<salt base64>$<key base64>` so the parameters can be raised later.
 */
import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";

/** scrypt cost (N = 2^14, r = 8, p = 1: OWASP's minimum for scrypt), a 16-byte salt, a 32-byte key. */
const N = 16384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

/** The stored form of `password` with a fresh random salt. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, KEY_BYTES, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** Whether `password` matches `stored` (a constant-time comparison of the keys). */
export function verifyPassword(password: string, stored: string): boolean {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, "base64");
  const got = scryptSync(password, Buffer.from(salt, "base64"), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(got, expected);
}
