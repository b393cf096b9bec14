/**
 * Stands in for the `serialport` package in the bundled GDB adapter (dist/gdb-adapter.cjs, see
 * scripts/build-extension.mjs): only UART targets of embedded boards use it, never gdbserver in a
 * VM, and its native add-on would have to ship for every platform.
 */
export class SerialPort {
  constructor() {
    throw new Error("serial (UART) targets are not supported by vmrt's bundled GDB adapter");
  }
}
