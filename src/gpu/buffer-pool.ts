/**
 * Buffers are expensive to create and cheap to reuse: a training step asks for the same sizes every time.
 * Freed buffers go back to a free list keyed by (usage, size class); size classes are eight per octave, so a
 * reused buffer wastes at most 12.5%.
 */

/** Process-wide counts, so a test can prove that every buffer and device ever created was destroyed. */
export interface GpuResourceCounts {
  devicesCreated: number
  devicesDestroyed: number
  buffersCreated: number
  buffersDestroyed: number
}

const counts: GpuResourceCounts = { devicesCreated: 0, devicesDestroyed: 0, buffersCreated: 0, buffersDestroyed: 0 }

export const gpuResourceCounts = (): Readonly<GpuResourceCounts> => ({ ...counts })
export const countDevice = (event: "created" | "destroyed"): void => {
  if (event === "created") counts.devicesCreated++
  else counts.devicesDestroyed++
}

export const sizeClass = (bytes: number): number => {
  if (bytes <= 256) return 256
  const octave = 2 ** Math.floor(Math.log2(bytes))
  const step = octave / 8
  return Math.ceil(bytes / step) * step
}

export interface PoolStats {
  /** Buffers handed out and not yet returned. */
  readonly liveBuffers: number
  readonly pooledBuffers: number
  readonly pooledBytes: number
}

export class BufferPool {
  private readonly free = new Map<string, Array<GPUBuffer>>()
  private readonly live = new Set<GPUBuffer>()
  private pooledBytes = 0
  private pooledBuffers = 0

  // Plain fields rather than parameter properties, so that Node's own type stripping can load this file too.
  private readonly device: GPUDevice
  private readonly capBytes: number

  constructor(device: GPUDevice, capBytes: number) {
    this.device = device
    this.capBytes = capBytes
  }

  /** A reused buffer if one of the class is free, else null (the caller creates one under an error scope). */
  take(bytes: number, usage: number, label: string): GPUBuffer | null {
    const list = this.free.get(`${usage}:${sizeClass(bytes)}`)
    const buffer = list?.pop()
    if (buffer === undefined) return null
    this.pooledBytes -= buffer.size
    this.pooledBuffers--
    buffer.label = label
    this.live.add(buffer)
    return buffer
  }

  create(bytes: number, usage: number, label: string): GPUBuffer {
    const buffer = this.device.createBuffer({ size: sizeClass(bytes), usage, label })
    counts.buffersCreated++
    this.live.add(buffer)
    return buffer
  }

  /** Returns a buffer to the free list; destroys it instead when asked, or when the pool is full. */
  release(buffer: GPUBuffer, reuse: boolean): void {
    if (!this.live.delete(buffer)) return
    if (!reuse || this.pooledBytes + buffer.size > this.capBytes) {
      buffer.destroy()
      counts.buffersDestroyed++
      return
    }
    const key = `${buffer.usage}:${buffer.size}`
    let list = this.free.get(key)
    if (list === undefined) this.free.set(key, list = [])
    list.push(buffer)
    this.pooledBytes += buffer.size
    this.pooledBuffers++
  }

  /** Destroys everything, live or pooled; called when the device's scope closes. */
  destroyAll(): void {
    for (const buffer of this.live) {
      buffer.destroy()
      counts.buffersDestroyed++
    }
    this.live.clear()
    for (const list of this.free.values()) {
      for (const buffer of list) {
        buffer.destroy()
        counts.buffersDestroyed++
      }
    }
    this.free.clear()
    this.pooledBytes = 0
    this.pooledBuffers = 0
  }

  stats(): PoolStats {
    return { liveBuffers: this.live.size, pooledBuffers: this.pooledBuffers, pooledBytes: this.pooledBytes }
  }
}
