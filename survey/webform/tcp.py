"""Small-response latency: Nagle's algorithm off on the server's TCP connections.

Streamlit binds its listening socket as ``socket.socket(family)`` (protocol 0), so the
connections it accepts report protocol 0 and asyncio's transport, which switches
Nagle's algorithm off only for sockets that say IPPROTO_TCP, leaves it on. Every
response with a body on a kept-alive connection then waits ~40 ms for the client's
delayed ACK. `disable_nagle_on_accepted_sockets` widens asyncio's check to every
stream socket of the internet families; it is called once when the app is loaded.
"""

from __future__ import annotations

import socket
from asyncio import base_events


def set_tcp_nodelay(sock: socket.socket) -> None:
    """TCP_NODELAY on an IPv4/IPv6 stream socket, whatever protocol number it reports."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def disable_nagle_on_accepted_sockets() -> None:
    """Make asyncio's transports call `set_tcp_nodelay` for the sockets they wrap."""
    base_events._set_nodelay = set_tcp_nodelay
