import { instanceFor } from "../src/gpu/adapter.ts"
import type { GpuShape } from "../src/gpu/Gpu.ts"

/**
 * jax-js asks navigator.gpu for an adapter; hand it the Dawn instance and feature level ours came from, so both
 * sides of a bench run on the same adapter.
 */
export const shareAdapterWithJax = (gpu: GpuShape): void => {
  const dawn = instanceFor(gpu.adapter.backend)
  Object.defineProperty(globalThis, "navigator", {
    value: {
      userAgent: "node",
      gpu: {
        requestAdapter: (o?: GPURequestAdapterOptions) => dawn.requestAdapter({ ...o, featureLevel: gpu.adapter.featureLevel }),
        getPreferredCanvasFormat: () => "rgba8unorm",
        wgslLanguageFeatures: dawn.wgslLanguageFeatures
      }
    },
    configurable: true,
    writable: true
  })
}
