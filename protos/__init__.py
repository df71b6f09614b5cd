"""Wire formats of govchain: the .proto sources and the Python code generated from them.

Regenerate with `make protos`; tests/unit/test_protos_in_sync.py fails if they drift.

May import: no other govchain package (generated code needs only protobuf and grpc).
"""
