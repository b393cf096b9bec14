/**
 * The runtime's log: logrus-style lines appended to `--log`, which containerd reads back
 * (the last `"level":"error"` line of log.json is the error Docker shows the user).
 */
import { appendFileSync, readFileSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
export type LogFormat = 'json' | 'text';

export class Logger {
  constructor(
    readonly path: string | undefined,
    readonly format: LogFormat = 'text',
    readonly debugEnabled = false,
  ) {}

  /** One line in logrus' JSON or text formatter. */
  static formatLine(format: LogFormat, level: LogLevel, msg: string, time: Date): string {
    const iso = time.toISOString();
    if (format === 'json') return `${JSON.stringify({ level, msg, time: iso })}\n`;
    return `time="${iso}" level=${level} msg=${JSON.stringify(msg)}\n`;
  }

  log(level: LogLevel, msg: string): void {
    const time = new Date();
    // Docker passes no --debug: VMRT_DEBUG_LOG names a file that gets every line of every call.
    const debugLog = process.env.VMRT_DEBUG_LOG;
    if (debugLog) {
      try {
        appendFileSync(debugLog, Logger.formatLine('text', level, `[${process.pid}] ${msg}`, time));
      } catch {
        // A debugging aid only.
      }
    }
    if (level === 'debug' && !this.debugEnabled) return;
    const line = Logger.formatLine(this.format, level, msg, time);
    if (this.path) {
      try {
        appendFileSync(this.path, line);
        return;
      } catch {
        // An unwritable log must not hide the message: fall through to stderr.
      }
    }
    if (level !== 'error') process.stderr.write(line);
  }

  debug(msg: string): void {
    this.log('debug', msg);
  }
  info(msg: string): void {
    this.log('info', msg);
  }
  warn(msg: string): void {
    this.log('warning', msg);
  }
  error(msg: string): void {
    this.log('error', msg);
  }
}

/** The last lines of a log, for error messages. */
export function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
