import { Schema } from "effect"

/**
 * Why a GPU operation failed. One tagged error with a reason keeps signatures short
 * (`Effect<A, GpuError>`) while still letting callers branch on the cause.
 */
export const GpuErrorReason = Schema.Literals([
  "NoAdapter", // no adapter on any backend tried
  "DeviceRequest", // an adapter was found but refused the device we asked for
  "DeviceLost", // the device went away (driver reset, destroy() elsewhere)
  "Validation", // WebGPU validation error: bad shader, bad binding, bad shape
  "OutOfMemory",
  "Internal",
  "Limit", // a request beyond the device's limits (buffer or binding size, workgroup count)
  "Map" // mapping a buffer for read-back failed
])
export type GpuErrorReason = typeof GpuErrorReason.Type

export class GpuError extends Schema.TaggedError<GpuError>()("GpuError", {
  reason: GpuErrorReason,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export const gpuError = (reason: GpuErrorReason, message: string, cause?: unknown): GpuError =>
  cause === undefined ? new GpuError({ reason, message }) : new GpuError({ reason, message, cause })
