/**
 * Worker-thread side of `EncoderPool`: builds the tokenizer once from the JSON text it is started with, then
 * encodes batches of texts. The ids of a batch come back as one buffer plus offsets, transferred without a copy.
 * Runs under Node's own TypeScript type stripping, so only erasable syntax in the modules it imports.
 */
import { parentPort, workerData } from "node:worker_threads"
import { IdBuffer } from "./bpe.ts"
import { BpeTokenizer } from "./core.ts"

interface Request {
  readonly id: number
  readonly texts: ReadonlyArray<string>
  readonly addSpecialTokens: boolean
}

const tokenizer = BpeTokenizer.fromJson((workerData as { tokenizerJson: string }).tokenizerJson)
const port = parentPort!
port.on("message", (request: Request) => {
  try {
    const out = new IdBuffer(1 << 16)
    const offsets = new Uint32Array(request.texts.length + 1)
    for (let i = 0; i < request.texts.length; i++) {
      tokenizer.encodeInto(request.texts[i]!, out, request.addSpecialTokens)
      offsets[i + 1] = out.length
    }
    const ids = out.toArray()
    port.postMessage({ id: request.id, ids, offsets }, [ids.buffer as ArrayBuffer, offsets.buffer as ArrayBuffer])
  } catch (e) {
    port.postMessage({ id: request.id, error: String((e as Error)?.stack ?? e) })
  }
})
port.postMessage({ ready: true })
