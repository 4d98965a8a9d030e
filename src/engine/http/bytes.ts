/** Byte-level helpers for reading raw header names without allocating (called per response header). */

/** Case-insensitive compare of a raw header name against a lower-case name, without allocating. */
export function headerNameIs(raw: Buffer | string, lower: string): boolean {
  if (raw.length !== lower.length) return false;
  if (typeof raw === 'string') return raw.toLowerCase() === lower;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    const c = lower.charCodeAt(i);
    if (b !== c && !(c >= 97 && c <= 122 && (b | 0x20) === c)) return false;
  }
  return true;
}

/** The same compare on bytes `[start, end)` of a buffer. */
export function bytesAre(buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const b = buf[start + i]!;
    const c = lower.charCodeAt(i);
    if (b !== c && !(c >= 97 && c <= 122 && (b | 0x20) === c)) return false;
  }
  return true;
}

/** A raw header value (undici gives Buffers) as a latin1 string. */
export const asString = (v: Buffer | string): string => (typeof v === 'string' ? v : v.toString('latin1'));
