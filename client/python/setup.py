"""Builds adaptd-client; the metadata is in pyproject.toml.

The gRPC stubs (adaptd/v1/*_pb2.py, *_pb2_grpc.py) are generated here, at
build time, from every proto/adaptd/v1/*.proto of the repository, into the
build tree only: nothing generated is committed, and this is the one place
where protoc runs for Python (CMake's proto/ target runs it for C++).
ADAPTD_PROTO_DIR overrides where the protos are read from.
"""
import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def proto_root():
    root = os.environ.get("ADAPTD_PROTO_DIR") or os.path.join(HERE, "..", "..", "proto")
    root = os.path.abspath(root)
    if not glob.glob(os.path.join(root, "adaptd", "v1", "*.proto")):
        sys.exit("adaptd-client: no adaptd/v1/*.proto under %s; install from a checkout of the "
                 "repository (pip install --no-index ./client/python) or set ADAPTD_PROTO_DIR to its "
                 "proto/ folder" % root)
    return root


def generate_stubs(out_dir):
    try:
        from grpc_tools import protoc  # noqa: PLC0415 (a build-time dependency only)
    except ImportError:
        sys.exit("adaptd-client: grpc_tools is missing; install Debian's python3-grpc-tools "
                 "(or the grpcio-tools package) and build with --no-build-isolation")
    root = proto_root()
    protos = sorted(glob.glob(os.path.join(root, "adaptd", "v1", "*.proto")))
    # The well-known types (google/protobuf/*.proto) ship with grpc_tools or
    # with protoc's include folder.
    includes = [root]
    for candidate in (os.path.join(os.path.dirname(protoc.__file__), "_proto"), "/usr/include"):
        if os.path.isfile(os.path.join(candidate, "google", "protobuf", "empty.proto")):
            includes.append(candidate)
            break
    args = ["grpc_tools.protoc"] + ["-I" + i for i in includes] + [
        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir] + protos
    if protoc.main(args) != 0:
        sys.exit("adaptd-client: grpc_tools.protoc failed on %s" % " ".join(protos))


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        generate_stubs(self.build_lib)


setup(cmdclass={"build_py": BuildPyWithStubs})
