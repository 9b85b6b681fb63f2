import { randomBytes as cryptoRandomBytes } from 'node:crypto';

/** Source of PIDs, nonces, salts and cancel keys; seedable so transcripts repeat. */
export interface Random {
  bytes(n: number): Buffer;
  /** Integer in [min, max]. */
  int(min: number, max: number): number;
}

export class CryptoRandom implements Random {
  bytes(n: number): Buffer { return cryptoRandomBytes(n); }
  int(min: number, max: number): number {
    return min + (cryptoRandomBytes(4).readUInt32BE(0) % (max - min + 1));
  }
}

/** xoshiro128** seeded through splitmix32: small, fast, and the same on every platform. */
export class SeededRandom implements Random {
  private s: Uint32Array;
  constructor(seed: number | string) {
    let x = typeof seed === 'number' ? seed >>> 0 : hashString(seed);
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = new Uint32Array([next(), next(), next(), next()]);
  }
  private nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!; s[3]! ^= s[1]!; s[1]! ^= s[2]!; s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.nextU32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }
  int(min: number, max: number): number {
    return min + (this.nextU32() % (max - min + 1));
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }
function hashString(s: string): number {
  let h = 2166136261;
  for (const c of Buffer.from(s, 'utf8')) h = Math.imul(h ^ c, 16777619) >>> 0;
  return h;
}
