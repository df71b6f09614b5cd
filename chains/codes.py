"""Result codes an application gives a committed tx (docs/protocol.md lists them all).

0 is success; 1-6 are the executor's own (node/executor.py: the tx never reached its
application); 100-106 are shared by every application; an application adds its own from
110 up. A refused tx keeps its place in the block with its code and a reason.
"""

OK = 0
# Codes shared by every application; each application adds its own from 100 up.
BAD_PAYLOAD = 100
UNKNOWN_TYPE = 101
NOT_ALLOWED = 102  # the signer's department may not send this type / touch this record
NOT_FOUND = 103  # a referenced record does not exist
ALREADY_EXISTS = 104
INVALID_STATE = 105  # e.g. revoked, expired, suspended, wrong status transition
OUT_OF_SCOPE = 106  # items outside what is allowed
