#!/usr/bin/env python3
"""Minimal syslog sink for the e2e tests: binds an AF_UNIX datagram socket
(default /dev/log), appends every message it receives to OUTFILE as one line
("<PRI>text", newlines inside a message escaped as \\n), flushes each line,
and removes the socket on SIGTERM/SIGINT. It refuses to replace a socket that
something else still serves.

usage: syslog-capture.py OUTFILE [SOCKET-PATH]
Prints "ready" on stdout once the socket is bound.
"""
import os
import signal
import socket
import stat
import sys


def live(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    out_path = sys.argv[1]
    sock_path = sys.argv[2] if len(sys.argv) == 3 else "/dev/log"
    try:
        st = os.lstat(sock_path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            print(f"{sock_path} exists and is not a socket; not touching it", file=sys.stderr)
            return 1
        if live(sock_path):
            print(f"{sock_path} is served by another process; not replacing it", file=sys.stderr)
            return 1
        os.unlink(sock_path)  # a stale socket nobody serves

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    old = os.umask(0)
    try:
        sock.bind(sock_path)
    finally:
        os.umask(old)
    os.chmod(sock_path, 0o666)
    ino = os.lstat(sock_path).st_ino

    def stop(*_):
        try:
            if os.lstat(sock_path).st_ino == ino:  # only our own socket
                os.unlink(sock_path)
        except OSError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)

    with open(out_path, "a", encoding="utf-8", errors="backslashreplace") as out:
        print("ready", flush=True)
        while True:
            try:
                data = sock.recv(65536)
            except InterruptedError:
                continue
            text = data.decode("utf-8", errors="backslashreplace").rstrip("\n\0")
            out.write(text.replace("\n", "\\n") + "\n")
            out.flush()


if __name__ == "__main__":
    sys.exit(main())
