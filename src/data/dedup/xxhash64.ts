/**
 * XXH64 (Yann Collet's xxHash, 64-bit variant, spec: github.com/Cyan4973/xxHash doc/xxhash_spec.md) over UTF-8
 * bytes: datatrove's default shingle hash (utils/hashing.py HashConfig(hash_fc="xxhash", precision=64) →
 * utils/hashes/xxhash.py `xxhash.xxh64_intdigest(str)`, which encodes the str as UTF-8, seed 0).
 *
 * Written on 32-bit halves instead of BigInt: a shingle is hashed for every word of every document, and BigInt
 * arithmetic allocates on every operation (~20× slower here). The result comes back in `out[0]` (low word) and
 * `out[1]` (high word) to avoid allocating per call.
 */
const P1H = 0x9e3779b1, P1L = 0x85ebca87
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f
const P3H = 0x165667b1, P3L = 0x9e3779f9
const P4H = 0x85ebca77, P4L = 0xc2b2ae63
const P5H = 0x27d4eb2f, P5L = 0x165667c5

const INV32 = 1 / 4294967296
// Scratch registers for the 64-bit helpers: (rh, rl) is the result of the last operation.
let rh = 0
let rl = 0

/** (ah:al) × (bh:bl) mod 2^64. The high word of al×bl comes from the double product, corrected by the exact low
 *  word: the double is within 2^11 of the true value, far less than the 2^32 step being rounded to. */
const mul = (ah: number, al: number, bh: number, bl: number): void => {
  const lo = Math.imul(al, bl) >>> 0
  const hi = Math.round((al * bl - lo) * INV32)
  rh = (hi + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0
  rl = lo
}
const add = (ah: number, al: number, bh: number, bl: number): void => {
  const lo = al + bl
  rl = lo >>> 0
  rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0
}
const rotl = (h: number, l: number, r: number): void => {
  if (r === 32) {
    rh = l
    rl = h
  } else if (r < 32) {
    rh = ((h << r) | (l >>> (32 - r))) >>> 0
    rl = ((l << r) | (h >>> (32 - r))) >>> 0
  } else {
    const s = r - 32
    rh = ((l << s) | (h >>> (32 - s))) >>> 0
    rl = ((h << s) | (l >>> (32 - s))) >>> 0
  }
}

const read32 = (b: Uint8Array, i: number): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0

/** round(acc, input) = rotl(acc + input × P2, 31) × P1, left in (rh, rl). */
const round = (ah: number, al: number, ih: number, il: number): void => {
  mul(ih, il, P2H, P2L)
  add(ah, al, rh, rl)
  rotl(rh, rl, 31)
  mul(rh, rl, P1H, P1L)
}

export const xxh64 = (b: Uint8Array, len: number, out: Uint32Array, seedHi = 0, seedLo = 0): void => {
  let i = 0
  let hh: number
  let hl: number
  if (len >= 32) {
    add(seedHi, seedLo, P1H, P1L)
    add(rh, rl, P2H, P2L)
    let v1h = rh, v1l = rl
    add(seedHi, seedLo, P2H, P2L)
    let v2h = rh, v2l = rl
    let v3h = seedHi, v3l = seedLo
    // seed − P1 = seed + (2^64 − P1); P1's low word is not 0, so no borrow reaches the high word.
    add(seedHi, seedLo, ~P1H >>> 0, -P1L >>> 0)
    let v4h = rh, v4l = rl
    const limit = len - 32
    do {
      round(v1h, v1l, read32(b, i + 4), read32(b, i))
      v1h = rh, v1l = rl
      round(v2h, v2l, read32(b, i + 12), read32(b, i + 8))
      v2h = rh, v2l = rl
      round(v3h, v3l, read32(b, i + 20), read32(b, i + 16))
      v3h = rh, v3l = rl
      round(v4h, v4l, read32(b, i + 28), read32(b, i + 24))
      v4h = rh, v4l = rl
      i += 32
    } while (i <= limit)
    rotl(v1h, v1l, 1)
    hh = rh, hl = rl
    rotl(v2h, v2l, 7)
    add(hh, hl, rh, rl)
    hh = rh, hl = rl
    rotl(v3h, v3l, 12)
    add(hh, hl, rh, rl)
    hh = rh, hl = rl
    rotl(v4h, v4l, 18)
    add(hh, hl, rh, rl)
    hh = rh, hl = rl
    for (const [vh, vl] of [[v1h, v1l], [v2h, v2l], [v3h, v3l], [v4h, v4l]] as const) {
      // mergeRound(acc, v) = (acc ^ round(0, v)) × P1 + P4
      round(0, 0, vh, vl)
      mul((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, P1H, P1L)
      add(rh, rl, P4H, P4L)
      hh = rh, hl = rl
    }
  } else {
    add(seedHi, seedLo, P5H, P5L)
    hh = rh, hl = rl
  }
  // + length (a string longer than 4 GiB is not a shingle)
  add(hh, hl, 0, len)
  hh = rh, hl = rl
  while (i + 8 <= len) {
    round(0, 0, read32(b, i + 4), read32(b, i))
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 27)
    mul(rh, rl, P1H, P1L)
    add(rh, rl, P4H, P4L)
    hh = rh, hl = rl
    i += 8
  }
  if (i + 4 <= len) {
    mul(0, read32(b, i), P1H, P1L)
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 23)
    mul(rh, rl, P2H, P2L)
    add(rh, rl, P3H, P3L)
    hh = rh, hl = rl
    i += 4
  }
  while (i < len) {
    mul(0, b[i]!, P5H, P5L)
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 11)
    mul(rh, rl, P1H, P1L)
    hh = rh, hl = rl
    i++
  }
  // avalanche
  hl = (hl ^ (hh >>> 1)) >>> 0 // h ^= h >> 33
  mul(hh, hl, P2H, P2L)
  hh = rh, hl = rl
  hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0 // h ^= h >> 29
  hh = (hh ^ (hh >>> 29)) >>> 0
  mul(hh, hl, P3H, P3L)
  hh = rh, hl = rl
  hl = (hl ^ hh) >>> 0 // h ^= h >> 32
  out[0] = hl
  out[1] = hh
}

const encoder = new TextEncoder()
let scratch = new Uint8Array(1024)
const pair = new Uint32Array(2)

/** `xxhash.xxh64_intdigest(s)` as a BigInt (convenient, not for hot loops). */
export const xxh64String = (s: string, seed = 0n): bigint => {
  const bytes = encoder.encode(s)
  xxh64(bytes, bytes.length, pair, Number((seed >> 32n) & 0xffffffffn), Number(seed & 0xffffffffn))
  return (BigInt(pair[1]!) << 32n) | BigInt(pair[0]!)
}

/** Hash `s` into `out` (lo, hi) reusing one buffer: the hot-loop form. */
export const xxh64Into = (s: string, out: Uint32Array): void => {
  if (scratch.length < s.length * 3) scratch = new Uint8Array(s.length * 3 + 64)
  // Shingles are mostly ASCII after simplify_text: copying code units beats TextEncoder's per-call overhead.
  let i = 0
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 127) break
    scratch[i] = c
  }
  if (i === s.length) return xxh64(scratch, i, out)
  const { written } = encoder.encodeInto(s, scratch)
  xxh64(scratch, written, out)
}
