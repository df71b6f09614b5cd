"""Keeping a node's resident memory flat: fewer glibc malloc arenas.

glibc gives each thread that allocates concurrently its own arena (up to 8 per core), and
memory freed into one arena is not reused by another. A node's gRPC, verifier and LevelDB
threads all allocate, so its RSS creeps up through fragmentation rather than live data.
Two arenas keep the contention low on a 2-core host and the RSS flat. It must run before
the node starts its threads; MALLOC_ARENA_MAX in the environment still wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS_MAX = 2


def limit_malloc_arenas(arenas: int = ARENAS_MAX) -> bool:
    """True if glibc accepted the limit; False where there is no glibc (musl, macOS)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
