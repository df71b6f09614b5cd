"""Wire formats of govchain: the .proto sources and the Python code generated from them.

On the wire (docs/protocol.md says what each byte means):
- api.proto: transactions, the `Client` service (clients) and the `Peer` service
  (validators: the peer stream's frames, block fetches);
- consensus.proto: consensus messages, blocks, certificates, governance, validator sets;
- datashare.proto: the `DataShare` service, the one-click pull;
- government.proto: payloads and records of the five government applications;
- kv.proto: payloads of the key-value application of tests and benchmarks.
Local only: storage.proto, how a node stores its consensus state (storage/codec.py);
it never travels, so a client in another language needs none of it.

`*_pb2.py`, `*_pb2.pyi` and `*_pb2_grpc.py` are generated: regenerate them with
`make protos` (scripts/gen_protos.py); tests/unit/test_protos_in_sync.py fails if they
drift from the .proto files.

May import: nothing of govchain (the generated code imports only protobuf and grpc).
"""
