"""Per-channel applications: deterministic state machines the executor calls.

Each application sees one committed tx at a time with read access to the world state
as of that point in the block, and returns a result code and the writes to make. A
rejected tx keeps its place in the block with a code and reason and changes nothing.
"""
