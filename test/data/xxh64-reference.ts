/**
 * XXH64 written straight from the spec (github.com/Cyan4973/xxHash doc/xxhash_spec.md) with BigInt: slow and
 * obviously correct, the reference the 32-bit-halves implementation is compared against on every length.
 */
const M = (1n << 64n) - 1n
const P1 = 0x9e3779b185ebca87n
const P2 = 0xc2b2ae3d27d4eb4fn
const P3 = 0x165667b19e3779f9n
const P4 = 0x85ebca77c2b2ae63n
const P5 = 0x27d4eb2f165667c5n
const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M
const round = (acc: bigint, input: bigint) => (rotl((acc + input * P2) & M, 31n) * P1) & M
const merge = (acc: bigint, v: bigint) => (((acc ^ round(0n, v)) * P1) + P4) & M
const u64 = (b: Uint8Array, i: number) => {
  let v = 0n
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]!)
  return v
}
const u32 = (b: Uint8Array, i: number) => BigInt((b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0)

export const xxh64Reference = (b: Uint8Array, seed = 0n): bigint => {
  const len = b.length
  let i = 0
  let h: bigint
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed, v4 = (seed - P1) & M
    while (i + 32 <= len) {
      v1 = round(v1, u64(b, i)), v2 = round(v2, u64(b, i + 8)), v3 = round(v3, u64(b, i + 16)), v4 = round(v4, u64(b, i + 24))
      i += 32
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M
    h = merge(merge(merge(merge(h, v1), v2), v3), v4)
  } else h = (seed + P5) & M
  h = (h + BigInt(len)) & M
  for (; i + 8 <= len; i += 8) h = ((rotl(h ^ round(0n, u64(b, i)), 27n) * P1) + P4) & M
  if (i + 4 <= len) {
    h = ((rotl(h ^ ((u32(b, i) * P1) & M), 23n) * P2) + P3) & M
    i += 4
  }
  for (; i < len; i++) h = (rotl(h ^ ((BigInt(b[i]!) * P5) & M), 11n) * P1) & M
  h ^= h >> 33n
  h = (h * P2) & M
  h ^= h >> 29n
  h = (h * P3) & M
  h ^= h >> 32n
  return h
}
