/**
 * The MinHash hot loops as a small WebAssembly module, assembled here from opcodes (no toolchain, no package):
 * native i64 arithmetic does in one instruction what the JavaScript versions spread over 32-bit halves.
 *
 *   xxh(p, len) → i64                 XXH64 (seed 0) of the bytes at [p, p + len)
 *   hashShingles(n, g, starts, ends, out)
 *                                     out[i] = xxh(starts[i], ends[i + g − 1] − starts[i]) for i < n: the shingle of
 *                                     tokens i … i + g − 1 is one contiguous byte range when the tokens are written
 *                                     separated by single spaces (`" ".join(words)` in datatrove)
 *   minPerm1(h, n, numHashes, a, b, out)
 *                                     out[j] = min over i < n of ((h[i]·a[j] + b[j]) mod 2^64) mod (2^61 − 1)
 *   minPermFlag4(…same…) → i32        the same four hash functions per pass and without the last reduction step;
 *                                     returns non-zero in the (≈ 2^-58 per value) case where that step was needed,
 *                                     and the caller then runs minPerm1
 *
 * Measured on c4_demo (x64, V8 TurboFan): minPermFlag4 ≈ 0.85 ns per (shingle, hash function), minPerm1 ≈ 1.1;
 * an i64x2 SIMD variant was slower (V8 emulates i64x2.mul with 32-bit multiplies), so there is none.
 *
 * Pointers are byte addresses in the module's exported memory; u32 arrays for starts/ends, u64 for the rest.
 * Exactness is pinned by test/data/minhash-fast.test.ts against BigInt references.
 */

// ---------------------------------------------------------------------------------------------------------------
// A minimal binary encoder for the subset of WebAssembly 1.0 used below.
// ---------------------------------------------------------------------------------------------------------------
type Code = Array<number>

const uleb = (v: number): Code => {
  const out: Code = []
  do {
    let byte = v & 0x7f
    v = Math.floor(v / 128)
    if (v !== 0) byte |= 0x80
    out.push(byte)
  } while (v !== 0)
  return out
}
const sleb = (value: bigint): Code => {
  const out: Code = []
  let v = value
  for (;;) {
    const byte = Number(v & 0x7fn)
    v >>= 7n
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)
    out.push(done ? byte : byte | 0x80)
    if (done) return out
  }
}
const vec = (items: ReadonlyArray<Code>): Code => [...uleb(items.length), ...items.flat()]
const section = (id: number, body: Code): Code => [id, ...uleb(body.length), ...body]
const name = (s: string): Code => vec(Array.from(new TextEncoder().encode(s), (b) => [b]))

const I32 = 0x7f
const I64 = 0x7e

const get = (i: number): Code => [0x20, ...uleb(i)]
const set = (i: number): Code => [0x21, ...uleb(i)]
const tee = (i: number): Code => [0x22, ...uleb(i)]
const i32c = (v: number): Code => [0x41, ...sleb(BigInt(v | 0))]
const i64c = (v: bigint): Code => [0x42, ...sleb(BigInt.asIntN(64, v))]
const i32load = (off = 0): Code => [0x28, 2, ...uleb(off)]
const i64load = (off = 0): Code => [0x29, 3, ...uleb(off)]
const i64load8u = (off = 0): Code => [0x31, 0, ...uleb(off)]
const i64load32u = (off = 0): Code => [0x35, 2, ...uleb(off)]
const i64store = (off = 0): Code => [0x37, 3, ...uleb(off)]
const call = (f: number): Code => [0x10, ...uleb(f)]
const BLOCK: Code = [0x02, 0x40]
const LOOP: Code = [0x03, 0x40]
const IF: Code = [0x04, 0x40]
const ELSE: Code = [0x05]
const END: Code = [0x0b]
const br = (l: number): Code => [0x0c, ...uleb(l)]
const brIf = (l: number): Code => [0x0d, ...uleb(l)]
const SELECT: Code = [0x1b]
const I32_EQZ: Code = [0x45]
const I32_LT_U: Code = [0x49]
const I32_GE_U: Code = [0x4f]
const I32_LE_U: Code = [0x4d]
const I64_LT_U: Code = [0x54]
const I32_ADD: Code = [0x6a]
const I32_SUB: Code = [0x6b]
const I32_SHL: Code = [0x74]
const I64_ADD: Code = [0x7c]
const I64_SUB: Code = [0x7d]
const I64_MUL: Code = [0x7e]
const I64_AND: Code = [0x83]
const I64_XOR: Code = [0x85]
const I64_SHR_U: Code = [0x88]
const I64_ROTL: Code = [0x89]
const I64_EXTEND_I32_U: Code = [0xad]
const I64_OR: Code = [0x84]
const I32_WRAP_I64: Code = [0xa7]

interface Func {
  readonly params: ReadonlyArray<number>
  readonly results: ReadonlyArray<number>
  readonly locals: ReadonlyArray<number>
  readonly body: Code
  readonly exportName: string
}

const assemble = (funcs: ReadonlyArray<Func>): Uint8Array => {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))])
  const code = funcs.map((f) => {
    const body = [...vec(f.locals.map((t) => [1, t])), ...f.body, ...END]
    return [...uleb(body.length), ...body]
  })
  const exports = [
    ...funcs.map((f, i) => [...name(f.exportName), 0x00, ...uleb(i)]),
    [...name("memory"), 0x02, 0]
  ]
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec(exports)),
    ...section(10, vec(code))
  ])
}

// ---------------------------------------------------------------------------------------------------------------
// XXH64 (github.com/Cyan4973/xxHash doc/xxhash_spec.md), seed 0.
// ---------------------------------------------------------------------------------------------------------------
const P1 = 0x9e3779b185ebca87n
const P2 = 0xc2b2ae3d27d4eb4fn
const P3 = 0x165667b19e3779f9n
const P4 = 0x85ebca77c2b2ae63n
const P5 = 0x27d4eb2f165667c5n
const MASK64 = (1n << 64n) - 1n

/** round(acc, input) = rotl(acc + input·P2, 31)·P1, with acc and input pushed by the given code. */
const round = (acc: Code, input: Code): Code => [...acc, ...input, ...i64c(P2), ...I64_MUL, ...I64_ADD, ...i64c(31n), ...I64_ROTL, ...i64c(P1), ...I64_MUL]

const xxhFunc = (): Func => {
  // params: p 0, len 1; locals: end 2, lim 3 (i32); h 4, v1 5, v2 6, v3 7, v4 8 (i64)
  const p = 0, len = 1, end = 2, lim = 3, h = 4, v = [5, 6, 7, 8]
  const body: Code = [
    ...get(p), ...get(len), ...I32_ADD, ...set(end),
    ...get(len), ...i32c(32), ...I32_GE_U,
    ...IF,
    ...i64c((P1 + P2) & MASK64), ...set(v[0]!),
    ...i64c(P2), ...set(v[1]!),
    ...i64c(0n), ...set(v[2]!),
    ...i64c((-P1) & MASK64), ...set(v[3]!),
    ...get(end), ...i32c(32), ...I32_SUB, ...set(lim),
    ...LOOP,
    ...v.flatMap((vi, k) => [...round(get(vi), [...get(p), ...i64load(8 * k)]), ...set(vi)]),
    ...get(p), ...i32c(32), ...I32_ADD, ...tee(p),
    ...get(lim), ...I32_LE_U, ...brIf(0),
    ...END,
    ...get(v[0]!), ...i64c(1n), ...I64_ROTL,
    ...get(v[1]!), ...i64c(7n), ...I64_ROTL, ...I64_ADD,
    ...get(v[2]!), ...i64c(12n), ...I64_ROTL, ...I64_ADD,
    ...get(v[3]!), ...i64c(18n), ...I64_ROTL, ...I64_ADD,
    ...set(h),
    // mergeRound(acc, v) = (acc ^ round(0, v))·P1 + P4
    ...v.flatMap((vi) => [...get(h), ...round(i64c(0n), get(vi)), ...I64_XOR, ...i64c(P1), ...I64_MUL, ...i64c(P4), ...I64_ADD, ...set(h)]),
    ...ELSE,
    ...i64c(P5), ...set(h),
    ...END,
    ...get(h), ...get(len), ...I64_EXTEND_I32_U, ...I64_ADD, ...set(h),
    // 8-byte lanes
    ...BLOCK, ...LOOP,
    ...get(p), ...i32c(8), ...I32_ADD, ...get(end), ...I32_LE_U, ...I32_EQZ, ...brIf(1),
    ...get(h), ...round(i64c(0n), [...get(p), ...i64load()]), ...I64_XOR, ...i64c(27n), ...I64_ROTL,
    ...i64c(P1), ...I64_MUL, ...i64c(P4), ...I64_ADD, ...set(h),
    ...get(p), ...i32c(8), ...I32_ADD, ...set(p),
    ...br(0),
    ...END, ...END,
    // one 4-byte lane
    ...get(p), ...i32c(4), ...I32_ADD, ...get(end), ...I32_LE_U,
    ...IF,
    ...get(h), ...get(p), ...i64load32u(), ...i64c(P1), ...I64_MUL, ...I64_XOR, ...i64c(23n), ...I64_ROTL,
    ...i64c(P2), ...I64_MUL, ...i64c(P3), ...I64_ADD, ...set(h),
    ...get(p), ...i32c(4), ...I32_ADD, ...set(p),
    ...END,
    // bytes
    ...BLOCK, ...LOOP,
    ...get(p), ...get(end), ...I32_LT_U, ...I32_EQZ, ...brIf(1),
    ...get(h), ...get(p), ...i64load8u(), ...i64c(P5), ...I64_MUL, ...I64_XOR, ...i64c(11n), ...I64_ROTL,
    ...i64c(P1), ...I64_MUL, ...set(h),
    ...get(p), ...i32c(1), ...I32_ADD, ...set(p),
    ...br(0),
    ...END, ...END,
    // avalanche
    ...get(h), ...get(h), ...i64c(33n), ...I64_SHR_U, ...I64_XOR, ...i64c(P2), ...I64_MUL, ...set(h),
    ...get(h), ...get(h), ...i64c(29n), ...I64_SHR_U, ...I64_XOR, ...i64c(P3), ...I64_MUL, ...set(h),
    ...get(h), ...get(h), ...i64c(32n), ...I64_SHR_U, ...I64_XOR
  ]
  return { params: [I32, I32], results: [I64], locals: [I32, I32, I64, I64, I64, I64, I64], body, exportName: "xxh" }
}

const hashShinglesFunc = (xxhIndex: number): Func => {
  // params: n 0, g 1, starts 2, ends 3, out 4; locals: i 5, s 6
  const n = 0, g = 1, starts = 2, ends = 3, out = 4, i = 5, s = 6
  const body: Code = [
    ...BLOCK, ...LOOP,
    ...get(i), ...get(n), ...I32_LT_U, ...I32_EQZ, ...brIf(1),
    ...get(out), ...get(i), ...i32c(3), ...I32_SHL, ...I32_ADD,
    ...get(starts), ...get(i), ...i32c(2), ...I32_SHL, ...I32_ADD, ...i32load(), ...tee(s),
    ...get(ends), ...get(i), ...get(g), ...I32_ADD, ...i32c(1), ...I32_SUB, ...i32c(2), ...I32_SHL, ...I32_ADD, ...i32load(),
    ...get(s), ...I32_SUB,
    ...call(xxhIndex),
    ...i64store(),
    ...get(i), ...i32c(1), ...I32_ADD, ...set(i),
    ...br(0),
    ...END, ...END
  ]
  return { params: [I32, I32, I32, I32, I32], results: [], locals: [I32, I32], body, exportName: "hashShingles" }
}

export const MERSENNE = (1n << 61n) - 1n

/**
 * minPerm, `U` hash functions per pass over the shingle hashes (U·2 + 1 registers live; numHashes must be a
 * multiple of U). With x = (h·a + b) mod 2^64 (wrapping i64 arithmetic), x' = (x & p) + (x >> 61) ≡ x (mod p) and
 * lies in [0, p + 7]; x' mod p = (x' + ((x' + 1) >> 61)) & p (for x' ≥ p the added 1 carries into bit 61 and the
 * mask removes it: x' + 1 − 2^61 = x' − p). Every value is < 2^61, so unsigned minima are plain minima.
 */
const minPermFunc = (U: number, exportName: string): Func => {
  // params: h 0, n 1, numHashes 2, a 3, b 4, out 5; locals: i32 j 6, ptr 7, end 8; i64 x 9, hv 10, then per lane
  // a_k, b_k, m_k.
  const hp = 0, n = 1, nh = 2, ap = 3, bp = 4, out = 5, j = 6, ptr = 7, end = 8, x = 9, hv = 10
  const A = (k: number) => 11 + 3 * k, B = (k: number) => 12 + 3 * k, M = (k: number) => 13 + 3 * k
  const lanes = Array.from({ length: U }, (_, k) => k)
  const body: Code = [
    ...get(hp), ...get(n), ...i32c(3), ...I32_SHL, ...I32_ADD, ...set(end),
    ...BLOCK, ...LOOP,
    ...get(j), ...get(nh), ...I32_LT_U, ...I32_EQZ, ...brIf(1),
    ...lanes.flatMap((k) => [
      ...get(ap), ...get(j), ...i32c(3), ...I32_SHL, ...I32_ADD, ...i64load(8 * k), ...set(A(k)),
      ...get(bp), ...get(j), ...i32c(3), ...I32_SHL, ...I32_ADD, ...i64load(8 * k), ...set(B(k)),
      ...i64c(-1n), ...set(M(k))
    ]),
    ...get(hp), ...set(ptr),
    ...BLOCK, ...LOOP,
    ...get(ptr), ...get(end), ...I32_LT_U, ...I32_EQZ, ...brIf(1),
    ...get(ptr), ...i64load(), ...set(hv),
    ...lanes.flatMap((k) => [
      ...get(hv), ...get(A(k)), ...I64_MUL, ...get(B(k)), ...I64_ADD, ...tee(x),
      ...i64c(MERSENNE), ...I64_AND, ...get(x), ...i64c(61n), ...I64_SHR_U, ...I64_ADD, ...tee(x),
      ...get(x), ...i64c(1n), ...I64_ADD, ...i64c(61n), ...I64_SHR_U, ...I64_ADD, ...i64c(MERSENNE), ...I64_AND, ...tee(x),
      ...get(M(k)), ...get(x), ...get(M(k)), ...I64_LT_U, ...SELECT, ...set(M(k))
    ]),
    ...get(ptr), ...i32c(8), ...I32_ADD, ...set(ptr),
    ...br(0),
    ...END, ...END,
    ...lanes.flatMap((k) => [...get(out), ...get(j), ...i32c(3), ...I32_SHL, ...I32_ADD, ...get(M(k)), ...i64store(8 * k)]),
    ...get(j), ...i32c(U), ...I32_ADD, ...set(j),
    ...br(0),
    ...END, ...END
  ]
  return {
    params: [I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I64, I64, ...lanes.flatMap(() => [I64, I64, I64])],
    body,
    exportName
  }
}

/**
 * minPerm without the final reduction: with no x' ≥ p the minimum of x' is the answer; whether some x' reached p
 * is or-ed into a flag ((x' + 1) has bit 61 set exactly then) and returned, and the caller reruns the exact loop
 * (probability about 8/2^61 per value). `U` hash functions per pass; numHashes must be a multiple of U.
 */
const minPermFlagFunc = (U: number, exportName: string): Func => {
  const hp = 0, n = 1, nh = 2, ap = 3, bp = 4, out = 5, j = 6, ptr = 7, end = 8, x = 9, hv = 10, flag = 11
  const A = (k: number) => 12 + 3 * k, B = (k: number) => 13 + 3 * k, M = (k: number) => 14 + 3 * k
  const lanes = Array.from({ length: U }, (_, k) => k)
  const body: Code = [
    ...get(hp), ...get(n), ...i32c(3), ...I32_SHL, ...I32_ADD, ...set(end),
    ...BLOCK, ...LOOP,
    ...get(j), ...get(nh), ...I32_LT_U, ...I32_EQZ, ...brIf(1),
    ...lanes.flatMap((k) => [
      ...get(ap), ...get(j), ...i32c(3), ...I32_SHL, ...I32_ADD, ...i64load(8 * k), ...set(A(k)),
      ...get(bp), ...get(j), ...i32c(3), ...I32_SHL, ...I32_ADD, ...i64load(8 * k), ...set(B(k)),
      ...i64c(-1n), ...set(M(k))
    ]),
    ...get(hp), ...set(ptr),
    ...BLOCK, ...LOOP,
    ...get(ptr), ...get(end), ...I32_LT_U, ...I32_EQZ, ...brIf(1),
    ...get(ptr), ...i64load(), ...set(hv),
    ...lanes.flatMap((k) => [
      ...get(hv), ...get(A(k)), ...I64_MUL, ...get(B(k)), ...I64_ADD, ...tee(x),
      ...i64c(MERSENNE), ...I64_AND, ...get(x), ...i64c(61n), ...I64_SHR_U, ...I64_ADD, ...tee(x),
      ...i64c(1n), ...I64_ADD, ...get(flag), ...I64_OR, ...set(flag),
      ...get(M(k)), ...get(x), ...get(M(k)), ...get(x), ...I64_LT_U, ...SELECT, ...set(M(k))
    ]),
    ...get(ptr), ...i32c(8), ...I32_ADD, ...set(ptr),
    ...br(0),
    ...END, ...END,
    ...lanes.flatMap((k) => [...get(out), ...get(j), ...i32c(3), ...I32_SHL, ...I32_ADD, ...get(M(k)), ...i64store(8 * k)]),
    ...get(j), ...i32c(U), ...I32_ADD, ...set(j),
    ...br(0),
    ...END, ...END,
    ...get(flag), ...i64c(61n), ...I64_SHR_U, ...I32_WRAP_I64
  ]
  return {
    params: [I32, I32, I32, I32, I32, I32],
    results: [I32],
    locals: [I32, I32, I32, I64, I64, I64, ...lanes.flatMap(() => [I64, I64, I64])],
    body,
    exportName
  }
}

export const minhashWasmBytes = (): Uint8Array =>
  assemble([xxhFunc(), hashShinglesFunc(0), minPermFunc(1, "minPerm1"), minPermFlagFunc(4, "minPermFlag4")])

/** The slice of the WebAssembly JS API used here (the project's `lib` has no WebAssembly declarations). */
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  readonly Module: new(bytes: Uint8Array) => object
  readonly Instance: new(module: object, imports: object) => { readonly exports: unknown }
}
const wasm = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly

export interface MinhashKernel {
  readonly memory: WasmMemory
  readonly xxh: (p: number, len: number) => bigint
  readonly hashShingles: (n: number, g: number, starts: number, ends: number, out: number) => void
  readonly minPerm1: (h: number, n: number, numHashes: number, a: number, b: number, out: number) => void
  /** Returns non-zero when some x' reached p: then the result is not exact and minPerm1 must run instead. */
  readonly minPermFlag4: (h: number, n: number, numHashes: number, a: number, b: number, out: number) => number
}

let compiled: object | undefined
/** A fresh instance (its own memory) of the compiled-once module. */
export const minhashKernel = (): MinhashKernel => {
  compiled ??= new wasm.Module(minhashWasmBytes())
  return new wasm.Instance(compiled, {}).exports as MinhashKernel
}
