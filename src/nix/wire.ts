// Nix's wire encoding, shared by the export format and the serve protocol: numbers are u64
// little-endian; strings are a u64 length, the bytes, and zero padding to a multiple of 8.

export function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(value % 0x1_0000_0000, 0);
  b.writeUInt32LE(Math.floor(value / 0x1_0000_0000), 4);
  return b;
}

/** Zero bytes that pad a string of `length` bytes to a multiple of 8. */
export function padding(length: number): number {
  return (8 - (length % 8)) % 8;
}

export function encodeString(value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  return Buffer.concat([u64(bytes.length), bytes, Buffer.alloc(padding(bytes.length))]);
}

/** A list (or set) of strings: the count, then each. */
export function encodeStrings(values: readonly string[]): Buffer {
  return Buffer.concat([u64(values.length), ...values.map(encodeString)]);
}
