import { describe, expect, it } from "@effect/vitest"
import { makeDocument } from "../../src/data/Document.ts"
import { SamplerFilter } from "../../src/data/filters/sampler.ts"
import { defaultRng, PCG64, seedSequencePool, seedSequenceState32 } from "../../src/data/random/numpy-rng.ts"

// Every expected value below was printed by numpy 2.4.6 (`np.random.default_rng`, i.e. Generator(PCG64(SeedSequence
// (seed)))); nothing here runs Python. The per-seed table came from, for each seed s:
//   python3 -c "import numpy as np; s = 0; g = np.random.default_rng(s); st = g.bit_generator.state['state']; \
//     print(st['state'], st['inc'], [float(g.random()) for _ in range(20)]); g = np.random.default_rng(s); \
//     print(g.bit_generator.random_raw(5).tolist()); g = np.random.default_rng(s); \
//     print([int(g.integers(0, 10)) for _ in range(20)], [int(g.integers(0, 10**12)) for _ in range(5)], \
//     [int(g.integers(-5, 1000)) for _ in range(5)], g.permutation(50).tolist())"
// (`integers`, then `permutation(50)`, continue one generator, so the 32-bit half buffer carries between them.)
const REFERENCE: Record<string, {
  readonly state: bigint
  readonly inc: bigint
  readonly random: ReadonlyArray<number>
  readonly uint64: ReadonlyArray<bigint>
  readonly ints10: ReadonlyArray<number>
  readonly intsBig: ReadonlyArray<number>
  readonly intsNeg: ReadonlyArray<number>
  readonly perm50: ReadonlyArray<number>
}> = {
  "0": {
    state: 35399562948360463058890781895381311971n,
    inc: 87136372517582989555478159403783844777n,
    random: [0.6369616873214543, 0.2697867137638703, 0.04097352393619469, 0.016527635528529094, 0.8132702392002724, 0.9127555772777217, 0.6066357757671799, 0.7294965609839984, 0.5436249914654229, 0.9350724237877682, 0.8158535541215322, 0.002738500170148095, 0.8574042765875693, 0.033585575305464355, 0.7296554464299441, 0.17565562060255901, 0.8631789223498866, 0.5414612202490917, 0.2997118905373848, 0.42268722119765845],
    uint64: [11749869230777074271n, 4976686463289251617n, 755828109848996024n, 304881062738325533n, 15002187965291974971n],
    ints10: [8, 6, 5, 2, 3, 0, 0, 0, 1, 8, 6, 9, 5, 6, 9, 7, 6, 5, 5, 9],
    intsBig: [815853554121, 2738500170, 857404276587, 33585575305, 729655446429],
    intsNeg: [845, 171, 84, 862, 17],
    perm50: [34, 5, 14, 31, 43, 49, 8, 19, 36, 4, 9, 42, 16, 7, 23, 33, 20, 29, 39, 10, 47, 2, 44, 27, 13, 11, 17, 46, 28, 30, 18, 38, 3, 1, 35, 24, 21, 0, 6, 22, 26, 37, 41, 45, 48, 40, 12, 15, 32, 25]
  },
  "1": {
    state: 207833532711051698738587646355624148094n,
    inc: 194290289479364712180083596243593368443n,
    random: [0.5118216247002567, 0.9504636963259353, 0.14415961271963373, 0.9486494471372439, 0.31183145201048545, 0.42332644897257565, 0.8277025938204418, 0.4091991363691613, 0.5495936876730595, 0.027559113243068367, 0.7535131086748066, 0.5381433132192782, 0.32973171649909216, 0.7884287034284043, 0.303194829291645, 0.4534978894806515, 0.13404169724716475, 0.40311298644712923, 0.20345524067614962, 0.2623133404418495],
    uint64: [9441442522235856127n, 17532960557476522086n, 2659275481604167885n, 17499493567006797778n, 5752274989370667689n],
    ints10: [4, 5, 7, 9, 0, 1, 8, 9, 2, 3, 8, 4, 2, 8, 2, 4, 6, 5, 0, 0],
    intsBig: [753513108674, 538143313219, 329731716499, 788428703428, 303194829291],
    intsNeg: [120, 450, 976, 129, 380],
    perm50: [17, 11, 33, 15, 46, 6, 32, 39, 26, 16, 20, 31, 38, 12, 40, 27, 35, 48, 45, 3, 42, 19, 49, 22, 29, 41, 47, 8, 24, 1, 14, 34, 2, 25, 9, 28, 10, 36, 30, 0, 23, 43, 7, 13, 5, 18, 44, 4, 21, 37]
  },
  "42": {
    state: 274674114334540486603088602300644985544n,
    inc: 332724090758049132448979897138935081983n,
    random: [0.7739560485559633, 0.4388784397520523, 0.8585979199113825, 0.6973680290593639, 0.09417734788764953, 0.9756223516367559, 0.761139701990353, 0.7860643052769538, 0.12811363267554587, 0.45038593789556713, 0.37079802423258124, 0.9267649888486018, 0.6438651200806645, 0.82276161327083, 0.44341419882733113, 0.2272387217847769, 0.5545847870158348, 0.06381725610417532, 0.8276311719925821, 0.6316643991220648],
    uint64: [14276969152011380360n, 8095878257575067585n, 15838336090824644132n, 12864169557245331597n, 1737265434024182251n],
    ints10: [0, 7, 6, 4, 4, 8, 0, 6, 2, 0, 5, 9, 7, 7, 7, 7, 5, 1, 8, 4],
    intsBig: [370798024232, 926764988848, 643865120080, 822761613270, 443414198827],
    intsNeg: [447, 223, 87, 552, 887],
    perm50: [33, 47, 40, 28, 38, 25, 0, 6, 21, 37, 18, 42, 26, 13, 49, 4, 27, 24, 17, 7, 29, 12, 8, 22, 10, 41, 5, 1, 30, 43, 2, 45, 11, 14, 20, 19, 34, 32, 39, 23, 36, 48, 15, 9, 31, 3, 16, 44, 46, 35]
  },
  "1099511627783": {
    state: 332962508046311388156873293427904226163n,
    inc: 68082541654585819404063318752374113837n,
    random: [0.829812891829413, 0.25530515834910417, 0.15379071585298754, 0.6745045458676086, 0.7388407191925654, 0.48999541650863676, 0.015398871776174494, 0.037272006656797085, 0.13368621158796434, 0.9012215328971839, 0.3383665949438819, 0.03489339347603271, 0.2379502112621682, 0.1418009182720077, 0.08324295943132609, 0.31487303904142416, 0.21901505114672914, 0.695867083919376, 0.07249701975439393, 0.8974570934171247],
    uint64: [15307346044642009514n, 4709548916763817589n, 2836937976252648324n, 12442412734173460875n, 13629205658180759656n],
    ints10: [2, 8, 6, 2, 0, 1, 5, 6, 8, 7, 0, 4, 6, 0, 6, 0, 6, 1, 2, 9],
    intsBig: [338366594943, 34893393476, 237950211262, 141800918272, 83242959431],
    intsNeg: [70, 311, 2, 215, 795],
    perm50: [23, 6, 36, 35, 39, 41, 37, 47, 34, 44, 15, 17, 20, 33, 12, 45, 42, 18, 25, 29, 22, 16, 28, 21, 49, 5, 14, 7, 0, 3, 8, 32, 27, 11, 30, 13, 19, 2, 4, 38, 9, 46, 48, 43, 24, 1, 10, 40, 26, 31]
  },
  "1606938044258990275541962092341162602522202993782792835313721": {
    state: 44614864779316496129156971414878199736n,
    inc: 258743141583586323624468408576143971591n,
    random: [0.4645503660271927, 0.5488033504410669, 0.5847692328917975, 0.15566440289616756, 0.4774477665362421, 0.7452184636904784, 0.18972194797562147, 0.4887091075934148, 0.6297535859600271, 0.5827742879398606, 0.24634550744506567, 0.12370694529033177, 0.5301581564281816, 0.2731536886052749, 0.7009608887298472, 0.8237297745373868, 0.9597163647680923, 0.12538234899057477, 0.027805745469119625, 0.46013833315633734],
    uint64: [8569441711451721702n, 10123634952380698007n, 10787088381334446622n, 2871501401612415569n, 8807356757858286752n],
    ints10: [4, 4, 0, 5, 9, 5, 5, 1, 8, 4, 9, 7, 8, 1, 3, 4, 2, 6, 6, 5],
    intsBig: [246345507445, 123706945290, 530158156428, 273153688605, 700960888729],
    intsNeg: [376, 822, 110, 959, 407],
    perm50: [13, 35, 5, 39, 26, 8, 9, 38, 18, 29, 27, 25, 44, 43, 14, 41, 15, 7, 22, 2, 46, 28, 17, 4, 32, 19, 10, 20, 49, 16, 3, 6, 23, 37, 48, 34, 33, 45, 11, 42, 21, 31, 40, 1, 30, 24, 47, 36, 12, 0]
  }
}

describe("numpy default_rng (SeedSequence + PCG64 + Generator)", () => {
  it("SeedSequence pools and generate_state match numpy", () => {
    // python3 -c "import numpy as np; print([int(x) for x in np.random.SeedSequence(0).pool], \
    //   [int(x) for x in np.random.SeedSequence(2**40 + 7).generate_state(6)])"
    expect(Array.from(seedSequencePool(0))).toEqual([4265667335, 1328953910, 1320288413, 3365567143])
    expect(Array.from(seedSequenceState32(2 ** 40 + 7, 6))).toEqual([238885397, 226915041, 1322230113, 2599373530, 2212210947, 2577144891])
  })

  for (const [seed, want] of Object.entries(REFERENCE)) {
    it(`seed ${seed}: PCG64 state, raw draws, random(), integers and permutation(50) match numpy`, () => {
      const s = BigInt(seed)
      let g = defaultRng(s)
      expect(g.bitGenerator.stateInfo).toEqual({ state: want.state, inc: want.inc, hasUint32: false, uinteger: 0 })
      expect(Array.from({ length: 20 }, () => g.random())).toEqual(want.random)
      g = defaultRng(s)
      expect(Array.from({ length: 5 }, () => g.bitGenerator.nextUint64())).toEqual(want.uint64)
      g = defaultRng(s)
      expect(Array.from({ length: 20 }, () => g.integers(0, 10))).toEqual(want.ints10)
      expect(Array.from({ length: 5 }, () => g.integers(0, 1e12))).toEqual(want.intsBig)
      expect(Array.from({ length: 5 }, () => g.integers(-5, 1000))).toEqual(want.intsNeg)
      expect(Array.from(g.permutation(50))).toEqual(want.perm50)
    })
  }

  it("number seeds equal bigint seeds, and numpy's refusals are refused", () => {
    expect(defaultRng(42).random()).toBe(REFERENCE["42"]!.random[0])
    expect(defaultRng(2 ** 40 + 7).random()).toBe(REFERENCE[String(2 ** 40 + 7)]!.random[0])
    expect(() => defaultRng(-1)).toThrow(RangeError)
    expect(() => defaultRng(1.5)).toThrow(RangeError)
    expect(() => defaultRng(0).uniform(1, 0)).toThrow(RangeError)
    expect(() => defaultRng(0).integers(3, 3)).toThrow(RangeError)
  })

  it("the first random() of seeds 0..2999 matches numpy (checked through their sum)", () => {
    // python3 -c "import numpy as np; print(sum(float(np.random.default_rng(s).random()) for s in range(3000)))"
    let sum = 0
    for (let s = 0; s < 3000; s++) sum += defaultRng(s).random()
    expect(sum).toBe(1508.079848219154)
  })

  it("random() and integers over 32-bit, exactly 2^32, 64-bit and wide ranges interleave as in numpy", () => {
    // python3 -c "import numpy as np; g = np.random.default_rng(5); print([f(g) for _ in range(5) for f in ( \
    //   lambda g: float(g.random()), lambda g: int(g.integers(0, 3 * 2**30)), lambda g: int(g.integers(0, 2**32)), \
    //   lambda g: int(g.integers(0, 2**32 + 1)), lambda g: int(g.integers(7, 2**53 - 5)))])"
    const g = defaultRng(5)
    const draws: Array<() => number> = [
      () => g.random(),
      () => g.integers(0, 3 * 2 ** 30),
      () => g.integers(0, 2 ** 32),
      () => g.integers(0, 2 ** 32 + 1),
      () => g.integers(7, 2 ** 53 - 5)
    ]
    const got: Array<number> = []
    for (let i = 0; i < 5; i++) for (const d of draws) got.push(d())
    expect(got).toEqual([
      0.8050029237453802, 72971127, 3470079269, 2213306431, 2574269977733860,
      0.053930702381656426, 895255019, 1646556805, 1754379058, 407802692776365,
      0.04875771072716806, 3218571552, 820262485, 1007213646, 3917659268253720,
      0.9741861932592554, 2101427999, 763308099, 3625944697, 3534467000153106,
      0.4930230187317426, 2891621976, 2859874686, 261145663, 5004364930265329
    ])
  })

  it("uniform(low, high), permutation of an array, integers(n) and endpoint=True match numpy", () => {
    // python3 -c "import numpy as np; g = np.random.default_rng(9); \
    //   print([float(g.uniform(-3.5, 10.25)) for _ in range(10)] + [float(g.uniform()) for _ in range(5)])"
    const u = defaultRng(9)
    expect([...Array.from({ length: 10 }, () => u.uniform(-3.5, 10.25)), ...Array.from({ length: 5 }, () => u.uniform())]).toEqual([
      8.465926554588664, 0.4437366249538863, 4.793287063208975, 7.191093640152458, 6.346026157049023, 9.086476656744479,
      8.330412676264663, 9.125767399420482, -3.134418651070538, 2.512160001780745, 0.48494432697728806,
      0.06515419737010752, 0.005626050679392924, 0.830621436971257, 0.9833022442861755
    ])
    // python3 -c "import numpy as np; g = np.random.default_rng(11); print(g.permutation(np.array([0]*5 + [1]*7 + [2]*3)).tolist(), \
    //   [int(g.integers(0, 5, endpoint=True)) for _ in range(20)], [int(g.integers(17)) for _ in range(20)])"
    const g = defaultRng(11)
    expect(g.permuted([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2])).toEqual([0, 2, 1, 1, 0, 1, 1, 1, 0, 2, 0, 1, 1, 0, 2])
    expect(Array.from({ length: 20 }, () => g.integers(0, 5, true))).toEqual([5, 2, 0, 3, 2, 3, 5, 1, 5, 0, 2, 4, 1, 4, 2, 3, 5, 4, 5, 3])
    expect(Array.from({ length: 20 }, () => g.integers(17))).toEqual([16, 16, 2, 3, 5, 9, 14, 8, 16, 6, 15, 10, 12, 4, 10, 13, 15, 14, 16, 2])
  })

  it("a permutation of a million documents matches numpy's", () => {
    // python3 -c "import numpy as np; p = np.random.default_rng(2024).permutation(1_000_003); \
    //   print(p[:10].tolist(), p[-10:].tolist(), int((p * np.arange(len(p)) % 1_000_003).sum()))"
    const p = defaultRng(2024).permutation(1_000_003)
    expect(Array.from(p.subarray(0, 10))).toEqual([44631, 565871, 592138, 115152, 80649, 367782, 732091, 268970, 774018, 538549])
    expect(Array.from(p.subarray(-10))).toEqual([844519, 238962, 642915, 998372, 540560, 90337, 909988, 250073, 215126, 314088])
    let dot = 0
    for (let i = 0; i < p.length; i++) dot += (p[i]! * i) % 1_000_003
    expect(dot).toBe(499727480985)
  })

  it("PCG64 can be seeded with a raw 128-bit state and increment, as pcg64_set_seed does", () => {
    // generate_state(4, uint64) of SeedSequence(0) is (state high, state low, inc high, inc low); seeding with
    // them by hand gives default_rng(0).
    const words = seedSequenceState32(0, 8)
    const u64 = (i: number) => (BigInt(words[2 * i + 1]!) << 32n) | BigInt(words[2 * i]!)
    const bits = new PCG64((u64(0) << 64n) | u64(1), (u64(2) << 64n) | u64(3))
    expect(bits.nextDouble()).toBe(REFERENCE["0"]!.random[0])
  })
})

describe("SamplerFilter draws as datatrove's (numpy default_rng(seed).uniform() < rate)", () => {
  it("seed 7, rate 0.3: the kept indices of 100 documents are numpy's", () => {
    // python3 -c "import numpy as np; g = np.random.default_rng(7); print([i for i in range(100) if g.uniform() < 0.3])"
    const f = SamplerFilter(0.3, 7)
    const kept: Array<number> = []
    for (let i = 0; i < 100; i++) if (f.filter(makeDocument(String(i), "x"))._tag === "Keep") kept.push(i)
    expect(kept).toEqual([3, 6, 11, 12, 20, 21, 23, 24, 31, 32, 33, 35, 37, 39, 40, 46, 52, 55, 63, 65, 67, 69, 74, 79, 80, 83, 89, 90, 96, 98, 99])
  })
})
