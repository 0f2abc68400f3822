"""copytrader: protocol — the messages that cross ZeroMQ sockets (imports only msgspec + stdlib).

messages.py  frozen, tagged msgspec Structs and one union per socket
vocabulary.py the shared literal types, value checks and bases (re-exported by messages.py)
codec.py     msgpack encode, one typed decoder per socket, PUB multipart helpers
topics.py    dotted lowercase PUB topics and SUB prefixes
errors.py    ProtocolError and the numeric ErrorCode of every Error reply
seq.py       SeqTracker: gap / duplicate / restart detection per publisher
"""
