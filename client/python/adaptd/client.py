"""A thin, typed client over adaptd's gRPC API (adaptd.v1.AdaptationService).

    from pathlib import Path
    from adaptd import Client

    with Client("localhost:50051", token="secret") as client:
        adapter = client.adapt("glyphs-conv4", {
            "alpha": [Path("a1.png"), Path("a2.png")],   # image files
            "beta": [open("b1.png", "rb").read()],      # encoded PNG or JPEG
        })
        for p in client.predict(adapter, [Path("query.png")]):
            print(p.label, p.probability)
        client.reload_model("glyphs-conv4")  # after new files were put in place

Inputs, wherever the API takes one:
  - pathlib.Path (any os.PathLike): an image file (PNG or JPEG), sent as is;
  - bytes / bytearray / memoryview: an encoded image;
  - str: text, for text backbones (a str is never taken as a file name);
  - a numpy array: a tensor in the backbone's input layout (ListBackbones'
    input_shape, e.g. (1, 28, 28)); uint8 is raw pixels, which the server
    scales and normalises; floating point is sent as float32, as the model's
    input;
  - an adaptd.v1.adaptd_pb2.Input or Tensor, as is.

Every call has a deadline (the client's `timeout`, or the call's) that covers
all its attempts. A call answered UNAVAILABLE is retried with exponential
backoff and jitter, up to `max_attempts` in all; Adapt is retried under the
same request_id (one is generated when the caller gives none), so a retry
never stores a second adapter. Any other failure raises AdaptdError at once.

A Client is thread-safe: its channel and stub may be shared by threads.
"""
from __future__ import annotations

import datetime
import os
import random
import time
import uuid
from typing import (Any, Callable, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import grpc

from adaptd.v1 import adaptd_pb2, adaptd_pb2_grpc

try:  # numpy is optional: only array inputs need it.
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the installation
    _np = None

InputLike = Union["os.PathLike[str]", bytes, bytearray, memoryview, str, Any]
Examples = Union[Mapping[str, Union[InputLike, Sequence[InputLike]]],
                 Iterable[Tuple[str, InputLike]]]
AdapterLike = Union[str, adaptd_pb2.Adapter]

# Method names as the API spells them; adapt(method=...) takes these, the
# enum value, or None for the backbone's default.
METHODS = {"META": adaptd_pb2.META, "FINETUNE": adaptd_pb2.FINETUNE,
           "PROTOTYPE": adaptd_pb2.PROTOTYPE}

# The server's default --max_message_bytes.
_MAX_MESSAGE_BYTES = 64 << 20


class AdaptdError(Exception):
    """A failed call: the gRPC status code and the server's message.

    Attributes:
      code: a grpc.StatusCode, e.g. grpc.StatusCode.NOT_FOUND.
      message: the server's message, e.g. "backbone \"x\" not found".
      rpc: the method that failed, e.g. "Adapt".
      attempts: how many times the call was sent.
    """

    def __init__(self, code: grpc.StatusCode, message: str, rpc: str, attempts: int = 1):
        super().__init__("%s: %s: %s" % (rpc, code.name, message))
        self.code = code
        self.message = message
        self.rpc = rpc
        self.attempts = attempts


def _read_file(path: Union[str, "os.PathLike[str]"]) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def tensor_input(array: Any) -> adaptd_pb2.Input:
    """A numpy array as a Tensor input: uint8 as UINT8, floating point as
    FLOAT32, little-endian and row-major."""
    if _np is None:
        raise TypeError("numpy arrays need numpy (Debian: python3-numpy)")
    array = _np.asarray(array)
    if array.dtype == _np.uint8:
        dtype, data = adaptd_pb2.UINT8, _np.ascontiguousarray(array).tobytes()
    elif _np.issubdtype(array.dtype, _np.floating):
        dtype = adaptd_pb2.FLOAT32
        data = _np.ascontiguousarray(array, dtype="<f4").tobytes()
    else:
        raise TypeError("array input: dtype %s is neither uint8 (pixels) nor floating point"
                        % array.dtype)
    return adaptd_pb2.Input(
        tensor=adaptd_pb2.Tensor(shape=list(array.shape), dtype=dtype, data=data))


def to_input(value: InputLike) -> adaptd_pb2.Input:
    """One input as the API's Input message (see the module's docstring)."""
    if isinstance(value, adaptd_pb2.Input):
        return value
    if isinstance(value, adaptd_pb2.Tensor):
        return adaptd_pb2.Input(tensor=value)
    if isinstance(value, str):
        return adaptd_pb2.Input(text=value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return adaptd_pb2.Input(image=bytes(value))
    if isinstance(value, os.PathLike):
        return adaptd_pb2.Input(image=_read_file(value))
    if _np is not None and isinstance(value, _np.ndarray):
        return tensor_input(value)
    raise TypeError("input of type %s: expected a path (pathlib.Path), image bytes, a text "
                    "(str), a numpy array or an adaptd_pb2.Input" % type(value).__name__)


def to_examples(examples: Examples) -> List[adaptd_pb2.Example]:
    """Labelled examples as Example messages: a mapping of label to one input
    or a list (or tuple) of them, or (label, input) pairs."""
    pairs: Iterable[Tuple[str, Any]]
    if isinstance(examples, Mapping):
        flat = []
        for label, values in examples.items():
            # A list or tuple is several inputs; anything else (a path, bytes,
            # a text, one array) is one.
            if not isinstance(values, (list, tuple)):
                values = [values]
            flat.extend((label, v) for v in values)
        pairs = flat
    else:
        pairs = examples
    out = []
    for i, pair in enumerate(pairs):
        try:
            label, value = pair
        except (TypeError, ValueError):
            raise TypeError("examples[%d]: expected a (label, input) pair, got %r"
                            % (i, type(pair).__name__)) from None
        if not isinstance(label, str):
            raise TypeError("examples[%d]: the label must be a str, not %s"
                            % (i, type(label).__name__))
        try:
            out.append(adaptd_pb2.Example(label=label, input=to_input(value)))
        except TypeError as e:
            raise TypeError("examples[%d] (label %r): %s" % (i, label, e)) from None
    return out


def _seconds(value: Union[None, float, int, datetime.timedelta]) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return float(value)


def _pem(value: Union[None, bytes, str, "os.PathLike[str]"]) -> Optional[bytes]:
    """PEM bytes as given, or read from a file path."""
    if value is None or isinstance(value, bytes):
        return value
    return _read_file(value)


class Client:
    """A connection to one adaptd (or a load balancer in front of several).

    Args:
      target: host:port, or any gRPC target ("dns:///adaptd-headless:50051").
      token: sent as "authorization: Bearer <token>" (servers started with
        --auth_token_file); None: no token.
      tls: use TLS. Implied by any of the three options below; without
        them the system's roots verify the server.
      root_certificates: PEM (bytes, or a file path) of the CA that signed
        the server's certificate.
      certificate_chain, private_key: PEM (bytes or paths) of a client
        certificate, for servers started with --tls_client_ca (mTLS).
      server_name: the name to check the server's certificate against, when
        it differs from the target's host.
      timeout: default deadline of each call, in seconds, over all attempts.
      max_attempts: attempts per call while the answer is UNAVAILABLE (1: no
        retries).
      initial_backoff, max_backoff, backoff_multiplier: the wait before the
        n-th retry is up to min(max_backoff, initial_backoff *
        multiplier**(n-1)) seconds, with full jitter.
      on_retry: called as on_retry(rpc, attempt, error, delay) before each
        retry, e.g. to log it.
      options: more gRPC channel options, as (key, value) pairs.
      channel: use this channel instead of making one (the TLS options and
        `options` are then ignored).
    """

    def __init__(self, target: str, *, token: Optional[str] = None, tls: bool = False,
                 root_certificates: Union[None, bytes, str, "os.PathLike[str]"] = None,
                 certificate_chain: Union[None, bytes, str, "os.PathLike[str]"] = None,
                 private_key: Union[None, bytes, str, "os.PathLike[str]"] = None,
                 server_name: Optional[str] = None, timeout: float = 30.0,
                 max_attempts: int = 5, initial_backoff: float = 0.1, max_backoff: float = 5.0,
                 backoff_multiplier: float = 2.0,
                 on_retry: Optional[Callable[[str, int, AdaptdError, float], None]] = None,
                 options: Sequence[Tuple[str, Any]] = (),
                 channel: Optional[grpc.Channel] = None):
        if not target:
            raise ValueError("target: empty; expected host:port")
        if max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1, got %d" % max_attempts)
        if timeout <= 0:
            raise ValueError("timeout: must be positive, got %r" % timeout)
        if (certificate_chain is None) != (private_key is None):
            raise ValueError("certificate_chain and private_key: give both or neither")
        self.target = target
        self.timeout = float(timeout)
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.backoff_multiplier = backoff_multiplier
        self.on_retry = on_retry
        self._metadata: Tuple[Tuple[str, str], ...] = (
            (("authorization", "Bearer " + token),) if token else ())
        self._owns_channel = channel is None
        if channel is None:
            opts = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                    ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                    # Reconnect about as fast as the calls retry.
                    ("grpc.initial_reconnect_backoff_ms", max(1, int(initial_backoff * 1000))),
                    ("grpc.max_reconnect_backoff_ms", max(1, int(max_backoff * 1000)))]
            if server_name:
                opts.append(("grpc.ssl_target_name_override", server_name))
            opts.extend(options)
            if tls or root_certificates or certificate_chain or server_name:
                creds = grpc.ssl_channel_credentials(
                    root_certificates=_pem(root_certificates),
                    private_key=_pem(private_key),
                    certificate_chain=_pem(certificate_chain))
                channel = grpc.secure_channel(target, creds, options=opts)
            else:
                channel = grpc.insecure_channel(target, options=opts)
        self.channel = channel
        # The generated stub, for anything this class does not wrap.
        self.stub = adaptd_pb2_grpc.AdaptationServiceStub(channel)
        self._health_check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=_encode_health_request,
            response_deserializer=_decode_health_response)

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Closes the channel (if this client made it)."""
        if self._owns_channel:
            self.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------- calls

    def list_backbones(self, *, timeout: Optional[float] = None) -> List[adaptd_pb2.Backbone]:
        """The loaded backbones: name, modality, input shape, preprocessing,
        methods and the default one."""
        response = self._call("ListBackbones", self.stub.ListBackbones,
                              adaptd_pb2.ListBackbonesRequest(), timeout)
        return list(response.backbones)

    def adapt(self, backbone: str, examples: Examples, *,
              method: Union[None, str, int] = None, steps: int = 0,
              ttl: Union[None, float, datetime.timedelta] = None,
              request_id: Optional[str] = None,
              timeout: Optional[float] = None) -> adaptd_pb2.Adapter:
        """Adapts a head for `backbone` to the labelled `examples` and returns
        the stored adapter (its adapter_id, labels and stats).

        method: "META", "FINETUNE", "PROTOTYPE" (or the enum); None: the
          backbone's default. steps: 0 for the method's default. ttl: seconds
          or a timedelta; None: the server's --default_ttl. request_id: the
          idempotency key; the same key returns the same adapter.
        """
        request = adaptd_pb2.AdaptRequest(backbone=backbone, support=to_examples(examples),
                                          steps=steps,
                                          request_id=request_id or uuid.uuid4().hex)
        if method is not None:
            if isinstance(method, str):
                if method.upper() not in METHODS:
                    raise ValueError("method: %r is not one of %s"
                                     % (method, ", ".join(sorted(METHODS))))
                method = METHODS[method.upper()]
            request.method = method
        seconds = _seconds(ttl)
        if seconds is not None:
            if seconds <= 0:
                raise ValueError("ttl: must be positive, got %r seconds" % seconds)
            request.ttl.FromTimedelta(datetime.timedelta(seconds=seconds))
        return self._call("Adapt", self.stub.Adapt, request, timeout).adapter

    def predict(self, adapter: AdapterLike, inputs: Union[InputLike, Sequence[InputLike]], *,
                top_k: int = 0, timeout: Optional[float] = None) -> List[adaptd_pb2.Prediction]:
        """Classifies `inputs` (one, or a list or tuple of them) with `adapter`
        (its id or the Adapter); one Prediction (label, probability, top_k
        scores) each. top_k: 0 for every class."""
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        request = adaptd_pb2.PredictRequest(adapter_id=_adapter_id(adapter), top_k=top_k)
        for i, value in enumerate(inputs):
            try:
                request.inputs.append(to_input(value))
            except TypeError as e:
                raise TypeError("inputs[%d]: %s" % (i, e)) from None
        return list(self._call("Predict", self.stub.Predict, request, timeout).predictions)

    def get_adapter(self, adapter: AdapterLike, *,
                    timeout: Optional[float] = None) -> adaptd_pb2.Adapter:
        """The adapter's metadata; AdaptdError NOT_FOUND if it does not exist
        (or belongs to another tenant)."""
        return self._call("GetAdapter", self.stub.GetAdapter,
                          adaptd_pb2.GetAdapterRequest(adapter_id=_adapter_id(adapter)), timeout)

    def list_adapters(self, *, backbone: str = "", page_size: int = 0,
                      timeout: Optional[float] = None) -> Iterator[adaptd_pb2.Adapter]:
        """Every adapter of the caller's tenant (on `backbone`, if given),
        following the pages; `timeout` applies to each page."""
        token = ""
        while True:
            page = self._call("ListAdapters", self.stub.ListAdapters,
                              adaptd_pb2.ListAdaptersRequest(page_size=page_size,
                                                             page_token=token,
                                                             backbone=backbone), timeout)
            yield from page.adapters
            token = page.next_page_token
            if not token:
                return

    def delete_adapter(self, adapter: AdapterLike, *, timeout: Optional[float] = None) -> None:
        """Deletes the adapter everywhere; AdaptdError NOT_FOUND if it does
        not exist."""
        self._call("DeleteAdapter", self.stub.DeleteAdapter,
                   adaptd_pb2.DeleteAdapterRequest(adapter_id=_adapter_id(adapter)), timeout)

    # -------------------------------------------------------- model control

    def list_models(self, *, timeout: Optional[float] = None) -> List[adaptd_pb2.ModelStatus]:
        """Every folder of the server's model repository, loaded or not, as a
        ModelStatus: model (the folder name), state (ModelStatus.READY,
        FAILED or UNLOADED), backbone, version, fingerprint, update_time, and
        message (why it failed, or a failed reload while READY)."""
        response = self._call("ListBackbones", self.stub.ListBackbones,
                              adaptd_pb2.ListBackbonesRequest(), timeout)
        return list(response.models)

    def load_model(self, model: str, *, timeout: Optional[float] = None) -> adaptd_pb2.ModelStatus:
        """Loads the repository folder `model` (its folder name, e.g.
        "glyphs-conv4"), or reloads it if it is loaded, and returns its
        status. A folder that fails to load raises AdaptdError with the
        server's reason (NOT_FOUND for a missing folder or weights file,
        INVALID_ARGUMENT for a bad name or model.pbtxt); what was serving
        keeps serving."""
        return self._call("LoadModel", self.stub.LoadModel,
                          adaptd_pb2.LoadModelRequest(model=_model_name(model)), timeout)

    def reload_model(self, model: str, *,
                     timeout: Optional[float] = None) -> adaptd_pb2.ModelStatus:
        """load_model for a folder that must be loaded: AdaptdError
        FAILED_PRECONDITION if it is not. The new backbone replaces the old one
        atomically; a reload that fails leaves the old one serving."""
        return self._call("ReloadModel", self.stub.ReloadModel,
                          adaptd_pb2.LoadModelRequest(model=_model_name(model)), timeout)

    def unload_model(self, model: str, *,
                     timeout: Optional[float] = None) -> adaptd_pb2.ModelStatus:
        """Stops serving the folder `model` and returns its status (UNLOADED);
        its adapters stay stored and serve again once it is loaded.
        AdaptdError NOT_FOUND if it is not loaded."""
        return self._call("UnloadModel", self.stub.UnloadModel,
                          adaptd_pb2.UnloadModelRequest(model=_model_name(model)), timeout)

    def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        """grpc.health.v1 status of `service` ("" for the server as a whole):
        "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN"."""
        return self._call("Health.Check", self._health_check, service, timeout)

    # ------------------------------------------------------------- retries

    def _call(self, rpc: str, method: Callable[..., Any], request: Any,
              timeout: Optional[float]) -> Any:
        timeout = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AdaptdError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                  "no time left for attempt %d within the %gs deadline"
                                  % (attempt, timeout), rpc, attempt - 1)
            try:
                return method(request, timeout=remaining, metadata=self._metadata)
            except grpc.RpcError as e:
                code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
                error = AdaptdError(code, e.details() if hasattr(e, "details") else str(e), rpc,
                                    attempt)
            if error.code != grpc.StatusCode.UNAVAILABLE or attempt >= self.max_attempts:
                raise error
            cap = min(self.max_backoff,
                      self.initial_backoff * self.backoff_multiplier ** (attempt - 1))
            delay = min(random.uniform(0, cap), max(0.0, deadline - time.monotonic()))
            if self.on_retry is not None:
                self.on_retry(rpc, attempt, error, delay)
            time.sleep(delay)


def _adapter_id(adapter: AdapterLike) -> str:
    if isinstance(adapter, adaptd_pb2.Adapter):
        return adapter.adapter_id
    if isinstance(adapter, str) and adapter:
        return adapter
    raise TypeError("adapter: expected an adapter id (non-empty str) or an Adapter, got %r"
                    % (adapter,))


def _model_name(model: str) -> str:
    if isinstance(model, str) and model.strip():
        return model
    raise TypeError("model: expected a folder name of the model repository (non-empty str), "
                    "got %r" % (model,))


# grpc.health.v1 by hand: two one-field messages (HealthCheckRequest {string
# service = 1}, HealthCheckResponse {ServingStatus status = 1}). Debian ships
# no generated health module, and generating one here would clash with
# grpcio-health-checking's where both are installed.
_SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _encode_health_request(service: str) -> bytes:
    data = service.encode("utf-8")
    return b"\x0a" + _varint(len(data)) + data if data else b""


def _decode_health_response(data: bytes) -> str:
    status, i = 0, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        wire = key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
            if key >> 3 == 1:
                status = value
        elif wire == 2:
            length, i = _read_varint(data, i)
            i += length
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError("HealthCheckResponse: wire type %d" % wire)
    return _SERVING_STATUS.get(status, "UNKNOWN")


def _read_varint(data: bytes, i: int) -> Tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(data):
            raise ValueError("HealthCheckResponse: truncated varint")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7
