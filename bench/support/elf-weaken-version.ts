import { readFileSync, writeFileSync } from 'node:fs';

const SHT_GNU_VERNEED = 0x6ffffffe;
const VER_FLG_WEAK = 0x2;

/**
 * Marks a version requirement of an ELF64 shared object as weak (`VER_FLG_WEAK` in its
 * `Elf64_Vernaux`), so the dynamic loader accepts a libc that lacks that version instead of
 * refusing to load the object. Symbols bound to that version must then come from somewhere
 * else (an LD_PRELOAD shim). Returns how many requirements were weakened.
 *
 * Used only to run the uWebSockets.js baseline on a glibc older than the one it was built
 * against; see bench/support/uws.ts.
 */
export function weakenVersionRequirement(src: string, dst: string, version: string): number {
  const b = readFileSync(src);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1)
    throw new Error(`${src} is not a little-endian ELF64 file`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      link: b.readUInt32LE(o + 0x28),
      info: b.readUInt32LE(o + 0x2c),
    };
  };
  let verneed: ReturnType<typeof section> | undefined;
  for (let i = 0; i < shnum; i += 1) if (section(i).type === SHT_GNU_VERNEED) verneed = section(i);
  if (!verneed) return 0;
  const strtab = section(verneed.link).offset;
  const str = (off: number) => b.toString('latin1', strtab + off, b.indexOf(0, strtab + off));
  let weakened = 0;
  let need = verneed.offset;
  for (let i = 0; i < verneed.info; i += 1) {
    let aux = need + b.readUInt32LE(need + 8);
    for (let j = 0; j < b.readUInt16LE(need + 2); j += 1) {
      if (str(b.readUInt32LE(aux + 8)) === version) {
        b.writeUInt16LE(b.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4);
        weakened += 1;
      }
      aux += b.readUInt32LE(aux + 12);
    }
    need += b.readUInt32LE(need + 12);
  }
  writeFileSync(dst, b);
  return weakened;
}
