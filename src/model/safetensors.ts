import { Schema } from "effect"

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header mapping each tensor name to
 * its dtype, shape and byte range, then the raw little-endian data. We read F32, BF16, F16 and F64 into f32,
 * and write F32 or BF16.
 */
export class SafetensorsError extends Schema.TaggedError<SafetensorsError>()("SafetensorsError", {
  message: Schema.String
}) {}

export type StDtype = "F32" | "BF16" | "F16" | "F64"

export interface StTensor {
  readonly dtype: StDtype
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

interface HeaderEntry {
  dtype: string
  shape: Array<number>
  data_offsets: [number, number]
}

const bytesPer: Record<StDtype, number> = { F32: 4, BF16: 2, F16: 2, F64: 8 }

const f16ToF32 = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

/** Parses a whole safetensors file held in memory; `label` names it in errors. */
export const parseSafetensors = (bytes: Uint8Array, label: string): { tensors: Map<string, StTensor>; metadata: Record<string, string> } => {
  const fail = (why: string) => {
    throw new SafetensorsError({ message: `${label}: ${why}` })
  }
  if (bytes.byteLength < 8) fail("too short to be a safetensors file")
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = Number(view.getBigUint64(0, true))
  if (headerLength > bytes.byteLength - 8 || headerLength > 100_000_000) fail(`header length ${headerLength} does not fit the file`)
  let header: Record<string, unknown>
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>
  } catch (e) {
    return fail(`header is not JSON (${String(e)})`)
  }
  const dataStart = 8 + headerLength
  const tensors = new Map<string, StTensor>()
  let metadata: Record<string, string> = {}
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = raw as Record<string, string>
      continue
    }
    const e = raw as HeaderEntry
    if (!(e.dtype in bytesPer)) fail(`tensor "${name}" has dtype ${e.dtype}; only F32, BF16, F16 and F64 are read`)
    const dtype = e.dtype as StDtype
    const count = e.shape.reduce((p, d) => p * d, 1)
    const [begin, end] = e.data_offsets
    if (end - begin !== count * bytesPer[dtype] || dataStart + end > bytes.byteLength) {
      fail(`tensor "${name}" byte range [${begin}, ${end}) does not match shape [${e.shape}] of ${dtype} or the file size`)
    }
    const at = bytes.byteOffset + dataStart + begin
    const data = new Float32Array(count)
    const dv = new DataView(bytes.buffer, at, end - begin)
    if (dtype === "F32") for (let i = 0; i < count; i++) data[i] = dv.getFloat32(i * 4, true)
    else if (dtype === "F64") for (let i = 0; i < count; i++) data[i] = dv.getFloat64(i * 8, true)
    else if (dtype === "BF16") {
      const u32 = new Uint32Array(data.buffer)
      for (let i = 0; i < count; i++) u32[i] = dv.getUint16(i * 2, true) << 16
    } else for (let i = 0; i < count; i++) data[i] = f16ToF32(dv.getUint16(i * 2, true))
    tensors.set(name, { dtype, shape: e.shape, data })
  }
  return { tensors, metadata }
}

/** f32 → bf16 bits with round-to-nearest-even, as torch's `.to(torch.bfloat16)` does; NaN stays NaN. */
export const f32ToBf16Bits = (x: number): number => {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!
  if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff
}

/** Serializes tensors (in the given order) as one safetensors file. */
export const encodeSafetensors = (
  tensors: ReadonlyArray<{ readonly name: string; readonly shape: ReadonlyArray<number>; readonly data: Float32Array }>,
  dtype: "F32" | "BF16",
  metadata: Record<string, string> = { format: "pt" }
): Uint8Array => {
  const header: Record<string, unknown> = { __metadata__: metadata }
  let offset = 0
  for (const t of tensors) {
    const size = t.data.length * bytesPer[dtype]
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] }
    offset += size
  }
  let json = JSON.stringify(header)
  // The data section should start 8-byte aligned; pad the header with spaces as the reference writer does.
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).byteLength) % 8)) % 8)
  const headerBytes = new TextEncoder().encode(json)
  const out = new Uint8Array(8 + headerBytes.byteLength + offset)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true)
  out.set(headerBytes, 8)
  let at = 8 + headerBytes.byteLength
  for (const t of tensors) {
    if (dtype === "F32") {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(at + i * 4, t.data[i]!, true)
      at += t.data.length * 4
    } else {
      for (let i = 0; i < t.data.length; i++) view.setUint16(at + i * 2, f32ToBf16Bits(t.data[i]!), true)
      at += t.data.length * 2
    }
  }
  return out
}
