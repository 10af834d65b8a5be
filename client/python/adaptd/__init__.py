"""adaptd's Python client: `Client` wraps the gRPC API, `AdaptdError` is a
failed call (its gRPC code and the server's message). The generated messages
and stubs are in adaptd.v1 (adaptd_pb2, adaptd_pb2_grpc)."""
from adaptd.client import (METHODS, AdaptdError, Client, tensor_input, to_examples,
                           to_input)

__all__ = ["AdaptdError", "Client", "METHODS", "tensor_input", "to_examples", "to_input"]
__version__ = "0.1.0"
