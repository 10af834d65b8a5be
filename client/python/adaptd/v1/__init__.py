"""The generated messages and stubs of proto/adaptd/v1 (adaptd_pb2,
adaptd_pb2_grpc), written here when the package is built."""
