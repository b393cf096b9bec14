"""The receiving end of a runc --console-socket, as containerd's shim does it.

Usage: console-receiver.py <socket-path>
Prints JSON lines on stdout: {"listening":true}, then {"name":..,"fds":n} for the
one message received (n: how many SCM_RIGHTS fds it carried), then
{"output":..} for every read from the pty master. Reads JSON commands from stdin:
{"write":"text"} writes to the master, {"resize":[rows,cols]} sets its window
size (TIOCSWINSZ). Exits on stdin EOF or when the master hangs up.
"""
import fcntl
import json
import os
import select
import socket
import struct
import sys
import termios


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sys.argv[1])
    server.listen(1)
    emit({"listening": True})
    conn, _ = server.accept()
    message, fds, _, _ = socket.recv_fds(conn, 4096, 4)
    emit({"name": message.decode(), "fds": len(fds)})
    master = fds[0]
    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([master, stdin], [], [])
        if master in ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            emit({"output": data.decode("latin-1")})
        if stdin in ready:
            line = sys.stdin.readline()
            if not line:
                return
            command = json.loads(line)
            if "write" in command:
                os.write(master, command["write"].encode())
            if "resize" in command:
                rows, cols = command["resize"]
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


main()
