const sigmoid = (z: number) => 1 / (1 + Math.exp(-z))

/** Reference for `swigluForward`. */
export const swigluForwardCpu = (gate: Float32Array, up: Float32Array): Float32Array =>
  gate.map((g, i) => g * sigmoid(g) * up[i]!)

/** Reference for `swigluBackward`. */
export const swigluBackwardCpu = (dh: Float32Array, gate: Float32Array, up: Float32Array) => ({
  dGate: gate.map((g, i) => dh[i]! * up[i]! * sigmoid(g) * (1 + g * (1 - sigmoid(g)))),
  dUp: gate.map((g, i) => dh[i]! * g * sigmoid(g))
})
