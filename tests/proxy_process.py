"""A cuttable TCP proxy, run as its own process (see tests/proxy.py).

Usage: python proxy_process.py <target>, where target is a TCP port on 127.0.0.1
or the path of a Unix socket. Prints its own port, then reads
commands from stdin ("cut"; "pause", which refuses new connections; "resume"), answering "ok" to each; exits
when stdin closes.
"""

from __future__ import annotations

import socket
import sys
import threading

TARGET = sys.argv[1]


def connect_upstream() -> socket.socket:
    if TARGET.isdigit():
        return socket.create_connection(("127.0.0.1", int(TARGET)))
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    upstream.connect(TARGET)
    return upstream



connections: list[socket.socket] = []
lock = threading.Lock()


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def accept(listener: socket.socket) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # paused: the listener was closed
        upstream = connect_upstream()
        with lock:
            connections.extend((client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(source, sink), daemon=True).start()


def cut() -> None:
    with lock:
        dropped = connections[:]
        connections.clear()
    for sock in dropped:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def listen(port: int) -> socket.socket:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    threading.Thread(target=accept, args=(listener,), daemon=True).start()
    return listener


listener = listen(0)
port = listener.getsockname()[1]
print(port, flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "cut":
        cut()
    elif command == "pause":
        # Stop listening: new connections are refused, as by a server that is down.
        # (shutdown first: a bare close leaves the blocked accept() holding the socket open)
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
    elif command == "resume":
        listener = listen(port)
    print("ok", flush=True)
cut()
