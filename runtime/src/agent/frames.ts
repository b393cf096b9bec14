/**
 * The frame codec of the vmrt agent protocol, version 1 (runtime/PROTOCOL.md):
 *
 *   u32 length (big-endian: 6 + payload, at most 1 MiB + 6) | u8 version | u8 type | u32 stream | payload
 */

export const PROTOCOL_VERSION = 1;
/** Bytes before the payload: length field, version, type, stream. */
export const HEADER_SIZE = 10;
/** Smallest value of the length field (an empty payload). */
export const MIN_LENGTH = 6;
export const MAX_PAYLOAD = 1024 * 1024;
export const MAX_LENGTH = MAX_PAYLOAD + MIN_LENGTH;

export const FrameType = {
  HELLO: 0x01,
  REQUEST: 0x02,
  RESPONSE: 0x03,
  STDIN: 0x10,
  STDOUT: 0x11,
  STDERR: 0x12,
  STDIN_CLOSE: 0x13,
  EXIT: 0x14,
  RESIZE: 0x15,
  SIGNAL: 0x16,
  EVENT: 0x20,
  DNS: 0x21,
} as const;

/** The frame types this side knows; another is a protocol error. */
const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

/** Control types carry one JSON object; the others carry raw bytes. */
const JSON_TYPES = new Set<number>([
  FrameType.HELLO,
  FrameType.REQUEST,
  FrameType.RESPONSE,
  FrameType.EXIT,
  FrameType.RESIZE,
  FrameType.SIGNAL,
  FrameType.EVENT,
]);

export interface Frame {
  version: number;
  type: number;
  stream: number;
  payload: Buffer;
}

export function encodeFrame(type: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) {
    throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  }
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt32BE(MIN_LENGTH + payload.length, 0);
  header.writeUInt8(PROTOCOL_VERSION, 4);
  header.writeUInt8(type, 5);
  header.writeUInt32BE(stream >>> 0, 6);
  return Buffer.concat([header, payload]);
}

export function encodeJsonFrame(type: number, stream: number, value: unknown): Buffer {
  return encodeFrame(type, stream, Buffer.from(JSON.stringify(value), 'utf8'));
}

/**
 * Why a decoded frame is malformed (bad version, unknown type, a JSON payload that is not
 * one object), or undefined when it is well-formed. The receiver drops such a frame and
 * carries on.
 */
export function frameProblem(frame: Frame): string | undefined {
  if (frame.version !== PROTOCOL_VERSION) return `unsupported protocol version ${frame.version}`;
  if (!KNOWN_TYPES.has(frame.type)) return `unknown frame type 0x${frame.type.toString(16)}`;
  if (JSON_TYPES.has(frame.type)) {
    let value: unknown;
    try {
      value = JSON.parse(frame.payload.toString('utf8'));
    } catch {
      return 'payload is not JSON';
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'payload is not one JSON object';
  }
  return undefined;
}

/** A frame length that cannot be trusted: the connection has to be closed. */
export class FrameLengthError extends Error {}

/** Incremental decoder: push bytes as they arrive, take whole frames out. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** Throws FrameLengthError on a length below 6 or above 1 MiB + 6. */
  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (length < MIN_LENGTH || length > MAX_LENGTH) {
        this.pending = Buffer.alloc(0);
        throw new FrameLengthError(`frame length ${length} is outside ${MIN_LENGTH}..${MAX_LENGTH}`);
      }
      if (this.pending.length < 4 + length) break;
      frames.push({
        version: this.pending.readUInt8(4),
        type: this.pending.readUInt8(5),
        stream: this.pending.readUInt32BE(6),
        payload: Buffer.from(this.pending.subarray(HEADER_SIZE, 4 + length)),
      });
      this.pending = this.pending.subarray(4 + length);
    }
    return frames;
  }
}
