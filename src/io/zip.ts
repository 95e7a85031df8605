// A small zip reader and writer for PyTorch archives.
//
// Hand-written rather than fflate's unzip/zip: fflate works on a whole archive in memory, and
// checkpoints reach several GB. Here the reader parses only the central directory through a file
// descriptor and hands out each member's absolute data offset, so stored (uncompressed) members —
// every tensor torch.save writes — are read straight into tensors by the native addon; only
// compressed members (rare) go through fflate. The writer streams member by member to a file
// descriptor. Both handle zip64 (members, offsets or counts past the 32-bit limits).

import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { inflateSync } from 'fflate';
import { FileFormatError } from '../errors.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the member's local header. */
  localHeaderOffset: number;
  flags: number;
}

/** Reads `length` bytes at `position` from an open file, failing with a clear message at EOF. */
export function preadExact(fd: number, file: string, position: number, length: number, what: string): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const r = readSync(fd, buf, done, length - done, position + done);
    if (r <= 0) {
      throw new FileFormatError(file, `${what}: the file ends at byte ${position + done}, ${length - done} more bytes expected (truncated file?)`);
    }
    done += r;
  }
  return buf;
}

/** Random access to the members of a zip archive on disk. */
export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  /** Member names in central-directory order. */
  readonly names: string[] = [];
  private readonly dataOffsets = new Map<string, number>();

  private constructor(
    readonly path: string,
    readonly fileSize: number,
  ) {}

  /** Opens `path` and parses its central directory (the file is not kept open). */
  static open(path: string): ZipReader {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const zr = new ZipReader(path, size);
      zr.readDirectory(fd);
      return zr;
    } finally {
      closeSync(fd);
    }
  }

  private fail(detail: string): never {
    throw new FileFormatError(this.path, detail);
  }

  private readDirectory(fd: number): void {
    const size = this.fileSize;
    // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
    const tailLen = Math.min(size, 22 + U16_MAX);
    const tail = preadExact(fd, this.path, size - tailLen, tailLen, 'zip directory');
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) <= tailLen) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      this.fail('the zip end-of-central-directory record is missing: the file is truncated or is not a zip archive');
    }
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    const eocdAbs = size - tailLen + eocd;
    // zip64: a locator sits just before the classic record and points at the zip64 record.
    if (eocdAbs >= 20) {
      const loc = preadExact(fd, this.path, eocdAbs - 20, 20, 'zip64 locator');
      if (loc.readUInt32LE(0) === SIG_EOCD64_LOCATOR) {
        const rec64 = Number(loc.readBigUInt64LE(8));
        if (rec64 + 56 > size) this.fail('the zip64 end-of-central-directory record lies past the end of the file (truncated?)');
        const r = preadExact(fd, this.path, rec64, 56, 'zip64 directory record');
        if (r.readUInt32LE(0) !== SIG_EOCD64) this.fail('bad zip64 end-of-central-directory record');
        count = Number(r.readBigUInt64LE(32));
        cdSize = Number(r.readBigUInt64LE(40));
        cdOffset = Number(r.readBigUInt64LE(48));
      }
    }
    if (cdOffset + cdSize > size) {
      this.fail(`the zip central directory (bytes ${cdOffset}–${cdOffset + cdSize}) lies past the end of the ${size}-byte file (truncated?)`);
    }
    const cd = preadExact(fd, this.path, cdOffset, cdSize, 'zip central directory');
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) this.fail(`zip central directory entry ${i} is damaged`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let csize = cd.readUInt32LE(p + 20);
      let usize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let offset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extra field (id 1): the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 1) {
          let q = e + 4;
          if (usize === U32_MAX) {
            usize = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (csize === U32_MAX) {
            csize = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (offset === U32_MAX) offset = Number(cd.readBigUInt64LE(q));
        }
        e += 4 + len;
      }
      if (flags & 1) this.fail(`zip member '${name}' is encrypted`);
      const entry: ZipEntry = { name, method, crc32: crc, compressedSize: csize, size: usize, localHeaderOffset: offset, flags };
      this.entries.set(name, entry);
      this.names.push(name);
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** Absolute offset of a member's (possibly compressed) data, from its local header. */
  dataOffset(entry: ZipEntry): number {
    const cached = this.dataOffsets.get(entry.name);
    if (cached !== undefined) return cached;
    const fd = openSync(this.path, 'r');
    try {
      const h = preadExact(fd, this.path, entry.localHeaderOffset, 30, `local header of '${entry.name}'`);
      if (h.readUInt32LE(0) !== SIG_LOCAL) this.fail(`zip member '${entry.name}': bad local header signature`);
      const off = entry.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
      if (off + entry.compressedSize > this.fileSize) {
        this.fail(`zip member '${entry.name}' ends at byte ${off + entry.compressedSize} but the file has ${this.fileSize} bytes (truncated?)`);
      }
      this.dataOffsets.set(entry.name, off);
      return off;
    } finally {
      closeSync(fd);
    }
  }

  /** A member's contents in memory (decompressed); for small members such as data.pkl. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) this.fail(`zip member '${name}' is missing`);
    const off = this.dataOffset(entry!);
    const fd = openSync(this.path, 'r');
    let raw: Buffer;
    try {
      raw = preadExact(fd, this.path, off, entry!.compressedSize, `zip member '${name}'`);
    } finally {
      closeSync(fd);
    }
    if (entry!.method === 0) return raw;
    if (entry!.method === 8) {
      const out = inflateSync(raw, { out: new Uint8Array(entry!.size) });
      if (out.length !== entry!.size) this.fail(`zip member '${name}' inflates to ${out.length} bytes, expected ${entry!.size}`);
      return out;
    }
    return this.fail(`zip member '${name}' uses compression method ${entry!.method} (only stored and deflate are supported)`);
  }
}

// ---------------------------------------------------------------------------------------
// CRC-32 (zip polynomial) for small in-memory members; tensors use the addon's crc32.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------------------------------
// Writing

interface WrittenEntry {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
}

/** DOS date of 1980-01-01, the timestamp torch writes (reproducible archives). */
const DOS_DATE_1980 = (0 << 9) | (1 << 5) | 1;

/**
 * Streams a zip archive of stored (uncompressed) members to an open file descriptor, in the
 * layout torch.save uses: each member's data starts on a multiple of `align` bytes (padding
 * goes into an extra field of the local header), timestamps are 1980-01-01.
 */
export class ZipWriter {
  private pos = 0;
  private readonly written: WrittenEntry[] = [];

  /**
   * `align`: data offset multiple. `forceZip64`: write zip64 fields even when not needed (tests
   * use it to exercise the >4 GB layout on small files).
   */
  constructor(
    private readonly fd: number,
    private readonly align = 64,
    private readonly forceZip64 = false,
  ) {}

  /** Bytes written so far. */
  get position(): number {
    return this.pos;
  }

  private write(buf: Uint8Array): void {
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done);
    this.pos += buf.length;
  }

  /**
   * Writes a member header; the caller then writes exactly `size` bytes of data through
   * `writeData` (or `addBytes` does both). `crc` must be the CRC-32 of those bytes.
   */
  begin(name: string, size: number, crc: number): void {
    const nameBuf = Buffer.from(name, 'utf8');
    const offset = this.pos;
    const zip64 = this.forceZip64 || size >= U32_MAX || offset >= U32_MAX;
    const z64 = zip64 ? 20 : 0; // id, len, usize, csize
    const base = this.pos + 30 + nameBuf.length + z64;
    const pad = (this.align - ((base + 4) % this.align)) % this.align; // 4 = padding field header
    const extra = Buffer.alloc(z64 + 4 + pad);
    if (zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(size), 4);
      extra.writeBigUInt64LE(BigInt(size), 12);
    }
    extra.writeUInt16LE(0x4246, z64); // "FB", the id torch's writer uses for alignment padding
    extra.writeUInt16LE(pad, z64 + 2);
    extra.fill(0x5a, z64 + 4); // 'Z'
    const h = Buffer.alloc(30);
    h.writeUInt32LE(SIG_LOCAL, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(0, 6);
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt16LE(0, 10);
    h.writeUInt16LE(DOS_DATE_1980, 12);
    h.writeUInt32LE(crc >>> 0, 14);
    h.writeUInt32LE(zip64 ? U32_MAX : size, 18);
    h.writeUInt32LE(zip64 ? U32_MAX : size, 22);
    h.writeUInt16LE(nameBuf.length, 26);
    h.writeUInt16LE(extra.length, 28);
    this.write(h);
    this.write(nameBuf);
    this.write(extra);
    this.written.push({ name: nameBuf, crc: crc >>> 0, size, offset });
  }

  /** Records `n` bytes written to the descriptor by someone else (the native tensor writer). */
  advance(n: number): void {
    this.pos += n;
  }

  /** A whole member from memory. */
  addBytes(name: string, data: Uint8Array): void {
    this.begin(name, data.length, crc32(data));
    this.write(data);
  }

  /** Writes the central directory and end records. */
  finish(): void {
    const cdStart = this.pos;
    for (const e of this.written) {
      const needSize = this.forceZip64 || e.size >= U32_MAX;
      const needOff = this.forceZip64 || e.offset >= U32_MAX;
      const z = (needSize ? 16 : 0) + (needOff ? 8 : 0);
      const extra = Buffer.alloc(z ? 4 + z : 0);
      if (z) {
        extra.writeUInt16LE(1, 0);
        extra.writeUInt16LE(z, 2);
        let q = 4;
        if (needSize) {
          extra.writeBigUInt64LE(BigInt(e.size), q);
          extra.writeBigUInt64LE(BigInt(e.size), q + 8);
          q += 16;
        }
        if (needOff) extra.writeBigUInt64LE(BigInt(e.offset), q);
      }
      const h = Buffer.alloc(46);
      h.writeUInt32LE(SIG_CENTRAL, 0);
      h.writeUInt16LE(z ? 45 : 20, 4); // made by
      h.writeUInt16LE(z ? 45 : 20, 6); // needed
      h.writeUInt16LE(0, 8);
      h.writeUInt16LE(0, 10);
      h.writeUInt16LE(0, 12);
      h.writeUInt16LE(DOS_DATE_1980, 14);
      h.writeUInt32LE(e.crc, 16);
      h.writeUInt32LE(needSize ? U32_MAX : e.size, 20);
      h.writeUInt32LE(needSize ? U32_MAX : e.size, 24);
      h.writeUInt16LE(e.name.length, 28);
      h.writeUInt16LE(extra.length, 30);
      h.writeUInt32LE(needOff ? U32_MAX : e.offset, 42);
      this.write(h);
      this.write(e.name);
      this.write(extra);
    }
    const cdSize = this.pos - cdStart;
    const n = this.written.length;
    const zip64 = this.forceZip64 || n >= U16_MAX || cdStart >= U32_MAX || cdSize >= U32_MAX;
    if (zip64) {
      const rec = Buffer.alloc(56);
      const recOffset = this.pos;
      rec.writeUInt32LE(SIG_EOCD64, 0);
      rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE(45, 12);
      rec.writeUInt16LE(45, 14);
      rec.writeBigUInt64LE(BigInt(n), 24);
      rec.writeBigUInt64LE(BigInt(n), 32);
      rec.writeBigUInt64LE(BigInt(cdSize), 40);
      rec.writeBigUInt64LE(BigInt(cdStart), 48);
      this.write(rec);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(SIG_EOCD64_LOCATOR, 0);
      loc.writeBigUInt64LE(BigInt(recOffset), 8);
      loc.writeUInt32LE(1, 16);
      this.write(loc);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(SIG_EOCD, 0);
    end.writeUInt16LE(zip64 ? U16_MAX : n, 8);
    end.writeUInt16LE(zip64 ? U16_MAX : n, 10);
    end.writeUInt32LE(zip64 ? U32_MAX : cdSize, 12);
    end.writeUInt32LE(zip64 ? U32_MAX : cdStart, 16);
    this.write(end);
  }
}
