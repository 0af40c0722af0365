// Byte-level mutations in libFuzzer's spirit: flips, interesting values, inserts, erases, copies
// within the input, splices with another corpus entry and dictionary words, stacked 1–4 at a time.

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x30, 0x37, 0x2f, 0x2e, 0x0a, 0x3d];
const INTERESTING_32 = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x00ff_ffff, 0x1_0000, 512, 511, 4096];

type Mutation = (b: Buffer, other: Buffer, rng: Rng, words: readonly Buffer[]) => Buffer;

const mutations: Mutation[] = [
  (b, _o, rng) => {
    if (b.length === 0) return Buffer.from([rng.below(256)]);
    const c = Buffer.from(b);
    const i = rng.below(c.length);
    c[i] = c[i]! ^ (1 << rng.below(8));
    return c;
  },
  (b, _o, rng) => {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[rng.below(c.length)] = INTERESTING_8[rng.below(INTERESTING_8.length)]!;
    return c;
  },
  (b, _o, rng) => {
    if (b.length < 4) return b;
    const c = Buffer.from(b);
    const v = INTERESTING_32[rng.below(INTERESTING_32.length)]!;
    const at = rng.below(c.length - 3);
    if (rng.below(2)) c.writeUInt32BE(v >>> 0, at);
    else c.writeUInt32LE(v >>> 0, at);
    return c;
  },
  (b, _o, rng) => {
    const at = rng.below(b.length + 1);
    const n = 1 + rng.below(16);
    const fill = Buffer.alloc(n, rng.below(2) ? rng.below(256) : 0);
    return Buffer.concat([b.subarray(0, at), fill, b.subarray(at)]);
  },
  (b, _o, rng) => {
    if (b.length === 0) return b;
    const at = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - at, 64));
    return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
  },
  (b, _o, rng) => {
    if (b.length < 2) return b;
    const from = rng.below(b.length);
    const n = 1 + rng.below(Math.min(b.length - from, 512));
    const at = rng.below(b.length + 1);
    return Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]);
  },
  (b, other, rng) => {
    if (other.length === 0) return b;
    const cut = rng.below(b.length + 1);
    const from = rng.below(other.length);
    return Buffer.concat([b.subarray(0, cut), other.subarray(from)]);
  },
  (b, _o, rng, words) => {
    if (words.length === 0) return b;
    const w = words[rng.below(words.length)]!;
    const at = rng.below(b.length + 1);
    if (rng.below(2) && at + w.length <= b.length) {
      const c = Buffer.from(b);
      w.copy(c, at);
      return c;
    }
    return Buffer.concat([b.subarray(0, at), w, b.subarray(at)]);
  },
  (b, _o, rng) => (b.length === 0 ? b : b.subarray(0, rng.below(b.length))),
];

export function mutate(parent: Buffer, other: Buffer, rng: Rng, maxLength: number, words: readonly Buffer[] = []): Buffer {
  let out = parent;
  const rounds = 1 + rng.below(4);
  for (let i = 0; i < rounds; i++) out = mutations[rng.below(mutations.length)]!(out, other, rng, words);
  return out.length > maxLength ? out.subarray(0, maxLength) : out;
}
