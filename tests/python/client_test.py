"""The Python client (client/python, package `adaptd`) against a real adaptd,
and its retry and error rules against an in-process fake server.

Run by tests/python/python_client_test.sh, which installs the package into a
virtual environment first. Environment:
  ADAPTD       the adaptd binary
  ADAPT_TRAIN  the adapt-train binary (makes the tiny model repository)
"""
import os
import pathlib
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib
from concurrent import futures

import grpc

import adaptd
from adaptd import AdaptdError, Client
from adaptd.v1 import adaptd_pb2, adaptd_pb2_grpc

try:
    import numpy as np
except ImportError:
    np = None

ADAPTD = os.environ.get("ADAPTD", "")
ADAPT_TRAIN = os.environ.get("ADAPT_TRAIN", "")
TOKEN = "python-client-test-token"
START_TIMEOUT = 120  # seconds for adaptd to load the model and listen


def png(pixels, width=28, height=28):
    """An 8-bit grey PNG of `pixels` (row-major, 0-255)."""
    raw = b"".join(b"\0" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pattern(kind, variant=0):
    """28x28 grey pixels of a few visually distinct classes."""
    out = []
    for y in range(28):
        for x in range(28):
            if kind == "dark":
                v = 20
            elif kind == "bright":
                v = 235
            elif kind == "stripes":
                v = 230 if (x // 3) % 2 == 0 else 25
            elif kind == "checker":
                v = 230 if ((x // 4) + (y // 4)) % 2 == 0 else 25
            else:  # "cross" and the training data's other classes
                v = 230 if abs(x - 14) < 3 or abs(y - 14) < 3 else 25
            out.append(max(0, min(255, v + ((x * 7 + y * 13 + variant * 31) % 11) - 5)))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv):
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(argv), done.returncode, done.stdout))


def make_repository(work):
    """A model repository with one tiny conv4 backbone, "tiny", made the way
    a user makes one: adapt-train data folders -> pretrain -> export."""
    root = os.path.join(work, "images")
    for c, kind in enumerate(["dark", "bright", "stripes", "checker", "cross"] * 2):
        folder = os.path.join(root, "class%d" % c)
        os.makedirs(folder)
        for i in range(4):
            with open(os.path.join(folder, "%d.png" % i), "wb") as f:
                f.write(png(pattern(kind, c * 10 + i)))
    run([ADAPT_TRAIN, "data", "folders", "--root", root, "--out", work + "/data.bin"])
    run([ADAPT_TRAIN, "pretrain", "--data", work + "/data.bin", "--work_dir", work + "/pre",
         "--max_steps", "2", "--batch_size", "8", "--eval_episodes", "0", "--threads", "1"])
    run([ADAPT_TRAIN, "export", "--weights", work + "/pre/backbone.pt", "--name", "tiny",
         "--out", work + "/models/tiny"])
    return work + "/models"


class Adaptd:
    """The real adaptd on 127.0.0.1, its log in a file."""

    def __init__(self, models, log, port=0, extra=()):
        self.log = log
        self.log_file = open(log, "wb")
        self.process = subprocess.Popen(
            [ADAPTD, "--host=127.0.0.1", "--port=%d" % port, "--metrics_port=-1",
             "--model_repository=" + models, "--device=cpu", "--intra_op_threads=1",
             "--workers=2", "--nvml_library=/nonexistent/libnvidia-ml.so.1", *extra],
            stdout=self.log_file, stderr=subprocess.STDOUT)
        self.port = None

    def wait_serving(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = re.search(r"serving on port ([0-9]+)", self.text())
            if match:
                self.port = int(match.group(1))
                return self.port
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("adaptd did not start:\n" + self.text())

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.log_file.close()


@unittest.skipUnless(ADAPTD and ADAPT_TRAIN, "set ADAPTD and ADAPT_TRAIN")
class RealServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="adaptd_python_client.")
        cls.models = make_repository(cls.work)
        tokens = os.path.join(cls.work, "tokens")
        with open(tokens, "w") as f:
            f.write("%s alice\n" % TOKEN)
        cls.server = Adaptd(cls.models, cls.work + "/adaptd.log",
                            extra=["--auth_token_file=" + tokens])
        port = cls.server.wait_serving()
        cls.target = "127.0.0.1:%d" % port
        cls.client = Client(cls.target, token=TOKEN, timeout=60)
        # One image per class, written as files too.
        cls.kinds = ["dark", "bright", "stripes"]
        cls.images = {k: png(pattern(k, 100)) for k in cls.kinds}
        cls.paths = {}
        for k, data in cls.images.items():
            cls.paths[k] = pathlib.Path(cls.work, k + ".png")
            cls.paths[k].write_bytes(data)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def adapt_one_shot(self, **kwargs):
        # One shot per class, PROTOTYPE: each support image is its class's
        # prototype, so it must be predicted as its own label.
        return self.client.adapt("tiny", {k: self.paths[k] for k in self.kinds},
                                 method="PROTOTYPE", **kwargs)

    def test_health_and_list_backbones(self):
        self.assertEqual(self.client.health(), "SERVING")
        backbones = {b.name: b for b in self.client.list_backbones()}
        self.assertIn("tiny", backbones)
        self.assertEqual(list(backbones["tiny"].input_shape), [1, 28, 28])
        self.assertEqual(backbones["tiny"].modality, "image")

    def test_adapt_predict_get_list_delete(self):
        adapter = self.adapt_one_shot(ttl=600)
        self.assertTrue(adapter.adapter_id)
        self.assertEqual(adapter.backbone, "tiny")
        self.assertEqual(adapter.method, adaptd_pb2.PROTOTYPE)
        self.assertEqual(sorted(adapter.labels), sorted(self.kinds))
        self.assertEqual(adapter.support_size, 3)
        self.assertAlmostEqual(adapter.expire_time.seconds - adapter.create_time.seconds, 600,
                               delta=2)

        # Paths, bytes, and the adapter as its id or as the message.
        by_path = self.client.predict(adapter, [self.paths[k] for k in self.kinds], top_k=2)
        self.assertEqual([p.label for p in by_path], self.kinds)
        for p in by_path:
            self.assertEqual(len(p.scores), 2)
            self.assertEqual(p.scores[0].label, p.label)
        by_bytes = self.client.predict(adapter.adapter_id, [self.images[k] for k in self.kinds])
        self.assertEqual([p.label for p in by_bytes], self.kinds)
        for a, b in zip(by_path, by_bytes):
            self.assertAlmostEqual(a.probability, b.probability, places=6)
        single = self.client.predict(adapter, self.images["bright"])
        self.assertEqual(len(single), 1)
        self.assertEqual(single[0].label, "bright")

        self.assertEqual(self.client.get_adapter(adapter).adapter_id, adapter.adapter_id)
        listed = [a.adapter_id for a in self.client.list_adapters(backbone="tiny", page_size=1)]
        self.assertIn(adapter.adapter_id, listed)

        self.client.delete_adapter(adapter)
        with self.assertRaises(AdaptdError) as caught:
            self.client.get_adapter(adapter.adapter_id)
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(AdaptdError) as caught:
            self.client.predict(adapter, self.images["dark"])
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertNotIn(adapter.adapter_id,
                         [a.adapter_id for a in self.client.list_adapters(backbone="tiny")])

    @unittest.skipIf(np is None, "numpy is not installed (Debian: python3-numpy)")
    def test_numpy_arrays_predict_like_the_image(self):
        adapter = self.adapt_one_shot()
        pixels = {k: np.array(pattern(k, 100), dtype=np.uint8).reshape(1, 28, 28)
                  for k in self.kinds}
        as_png = self.client.predict(adapter, [self.images[k] for k in self.kinds])
        as_uint8 = self.client.predict(adapter, [pixels[k] for k in self.kinds])
        # FLOAT32 is the model's input: the model's preprocessing done here.
        as_float = self.client.predict(
            adapter, [(pixels[k].astype(np.float64) / 255.0 - 0.5) / 0.5 for k in self.kinds])
        for a, b, c in zip(as_png, as_uint8, as_float):
            self.assertEqual(a.label, b.label)
            self.assertEqual(a.label, c.label)
            self.assertAlmostEqual(a.probability, b.probability, places=5)
            self.assertAlmostEqual(a.probability, c.probability, places=5)
        # Arrays as support examples too.
        from_arrays = self.client.adapt("tiny", pixels, method="PROTOTYPE")
        self.assertEqual([p.label for p in self.client.predict(from_arrays, list(pixels.values()))],
                         self.kinds)

    def test_same_request_id_returns_the_same_adapter(self):
        first = self.adapt_one_shot(request_id="python-client-idempotent")
        again = self.adapt_one_shot(request_id="python-client-idempotent")
        self.assertEqual(first.adapter_id, again.adapter_id)

    def test_unknown_backbone_is_not_found_with_the_message(self):
        with self.assertRaises(AdaptdError) as caught:
            self.client.adapt("no-such-backbone", {"a": self.images["dark"]})
        error = caught.exception
        self.assertEqual(error.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("no-such-backbone", error.message)
        self.assertEqual(error.rpc, "Adapt")
        self.assertEqual(error.attempts, 1)  # not retried
        self.assertIn("NOT_FOUND", str(error))

    def test_invalid_input_names_the_field(self):
        bad = adaptd_pb2.Tensor(shape=[3, 28, 28], dtype=adaptd_pb2.UINT8, data=b"\0" * 3 * 784)
        with self.assertRaises(AdaptdError) as caught:
            self.client.adapt("tiny", {"a": bad, "b": self.images["dark"]})
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("support[0]", caught.exception.message)

    def test_token_is_required_and_checked(self):
        for token in (None, "wrong-token"):
            with Client(self.target, token=token, max_attempts=1) as anonymous:
                with self.assertRaises(AdaptdError) as caught:
                    anonymous.list_backbones()
                self.assertEqual(caught.exception.code, grpc.StatusCode.UNAUTHENTICATED)

    @unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
    def test_tls_with_the_servers_ca(self):
        key, cert = self.work + "/tls.key", self.work + "/tls.crt"
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=adaptd-test", "-addext", "subjectAltName=DNS:adaptd-test",
             "-keyout", key, "-out", cert])
        server = Adaptd(self.models, self.work + "/tls.log",
                        extra=["--tls_cert=" + cert, "--tls_key=" + key])
        try:
            target = "127.0.0.1:%d" % server.wait_serving()
            with Client(target, root_certificates=pathlib.Path(cert),
                        server_name="adaptd-test") as secure:
                self.assertEqual([b.name for b in secure.list_backbones()], ["tiny"])
            with Client(target, max_attempts=1, timeout=10) as plaintext:
                with self.assertRaises(AdaptdError) as caught:
                    plaintext.list_backbones()
                self.assertEqual(caught.exception.code, grpc.StatusCode.UNAVAILABLE)
        finally:
            server.stop()

    def test_model_control(self):
        # A server of its own, on a copy of the repository: unloading "tiny"
        # must not reach the other tests.
        models = self.work + "/control_models"
        shutil.copytree(self.models, models)
        config = pathlib.Path(models, "tiny", "model.pbtxt")
        original = re.sub(r"(?m)^version:.*$", "", config.read_text())
        server = Adaptd(models, self.work + "/control.log")
        try:
            with Client("127.0.0.1:%d" % server.wait_serving()) as client:
                [tiny] = client.list_models()
                self.assertEqual((tiny.model, tiny.backbone, tiny.state),
                                 ("tiny", "tiny", adaptd_pb2.ModelStatus.READY))
                self.assertTrue(tiny.fingerprint.startswith("sha256:"), tiny.fingerprint)
                self.assertEqual(client.list_backbones()[0].fingerprint, tiny.fingerprint)
                adapter = client.adapt("tiny", {k: self.paths[k] for k in self.kinds},
                                       method="PROTOTYPE")

                unloaded = client.unload_model("tiny")
                self.assertEqual(unloaded.state, adaptd_pb2.ModelStatus.UNLOADED)
                self.assertEqual(client.list_backbones(), [])
                self.assertEqual(client.health("backbone/tiny"), "NOT_SERVING")
                self.assertEqual(client.list_models()[0].state, adaptd_pb2.ModelStatus.UNLOADED)
                for call, code in ((client.unload_model, grpc.StatusCode.NOT_FOUND),
                                   (client.reload_model, grpc.StatusCode.FAILED_PRECONDITION)):
                    with self.assertRaises(AdaptdError) as caught:
                        call("tiny")
                    self.assertEqual(caught.exception.code, code)

                loaded = client.load_model("tiny")
                self.assertEqual((loaded.backbone, loaded.state),
                                 ("tiny", adaptd_pb2.ModelStatus.READY))
                self.assertEqual(loaded.fingerprint, tiny.fingerprint)
                # Its adapter serves again: the same weights.
                self.assertEqual([p.label for p in client.predict(
                    adapter, [self.images[k] for k in self.kinds])], self.kinds)

                config.write_text(original + '\nversion: "v2"\n')
                reloaded = client.reload_model("tiny")
                self.assertEqual((reloaded.version, reloaded.state),
                                 ("v2", adaptd_pb2.ModelStatus.READY))
                self.assertEqual(client.list_models()[0].version, "v2")
                self.assertEqual(client.list_backbones()[0].version, "v2")

                with self.assertRaises(AdaptdError) as caught:
                    client.load_model("../tiny")
                self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(caught.exception.rpc, "LoadModel")
                with self.assertRaises(AdaptdError) as caught:
                    client.load_model("no-such-folder")
                self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)
        finally:
            server.stop()

    def test_unavailable_is_retried_until_the_server_is_up(self):
        port = free_port()
        retries = []
        started = []

        def on_retry(rpc, attempt, error, delay):
            retries.append((rpc, attempt, error.code))
            if not started:  # the server comes up only after a failed attempt
                started.append(Adaptd(self.models, self.work + "/late.log", port=port))

        try:
            with Client("127.0.0.1:%d" % port, timeout=START_TIMEOUT, max_attempts=1000,
                        initial_backoff=0.05, max_backoff=0.5, on_retry=on_retry) as late:
                names = [b.name for b in late.list_backbones()]
        finally:
            for server in started:
                server.stop()
        self.assertEqual(names, ["tiny"])
        self.assertGreaterEqual(len(retries), 1)
        self.assertEqual(retries[0], ("ListBackbones", 1, grpc.StatusCode.UNAVAILABLE))

    def test_unavailable_after_the_last_attempt_is_raised(self):
        with Client("127.0.0.1:%d" % free_port(), max_attempts=3, initial_backoff=0.01,
                    max_backoff=0.02) as nowhere:
            with self.assertRaises(AdaptdError) as caught:
                nowhere.list_backbones()
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(caught.exception.attempts, 3)


class FakeService(adaptd_pb2_grpc.AdaptationServiceServicer):
    """Answers UNAVAILABLE to the first `failures` calls, then OK; records
    every request and its metadata."""

    def __init__(self):
        self.failures = 0
        self.code = grpc.StatusCode.UNAVAILABLE
        self.requests = []
        self.metadata = []
        self.release = threading.Event()
        self.block = False
        self.lock = threading.Lock()

    def _answer(self, request, context, response):
        with self.lock:
            self.requests.append(request)
            self.metadata.append(dict(context.invocation_metadata()))
            fail = self.failures > 0
            self.failures -= 1
        if self.block:
            self.release.wait(30)
        if fail:
            context.abort(self.code, "fake failure")
        return response

    def Adapt(self, request, context):
        return self._answer(request, context, adaptd_pb2.AdaptResponse(
            adapter=adaptd_pb2.Adapter(adapter_id="id-" + request.request_id)))

    def ListBackbones(self, request, context):
        return self._answer(request, context, adaptd_pb2.ListBackbonesResponse(
            backbones=[adaptd_pb2.Backbone(name="fake")]))

    def Predict(self, request, context):
        return self._answer(request, context, adaptd_pb2.PredictResponse(
            predictions=[adaptd_pb2.Prediction(label="x") for _ in request.inputs]))

    def LoadModel(self, request, context):
        return self._answer(request, context, adaptd_pb2.ModelStatus(
            model=request.model, state=adaptd_pb2.ModelStatus.READY))

    def ReloadModel(self, request, context):
        return self._answer(request, context, adaptd_pb2.ModelStatus(
            model=request.model, state=adaptd_pb2.ModelStatus.READY, version="reloaded"))

    def UnloadModel(self, request, context):
        return self._answer(request, context, adaptd_pb2.ModelStatus(
            model=request.model, state=adaptd_pb2.ModelStatus.UNLOADED))


class RetryAndErrorTest(unittest.TestCase):
    def setUp(self):
        self.service = FakeService()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        adaptd_pb2_grpc.add_AdaptationServiceServicer_to_server(self.service, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.retries = []
        self.client = Client("127.0.0.1:%d" % port, token="t0k", max_attempts=4,
                             initial_backoff=0.001, max_backoff=0.01,
                             on_retry=lambda *a: self.retries.append(a))

    def tearDown(self):
        self.service.release.set()
        self.client.close()
        self.server.stop(None)

    def test_unavailable_is_retried_then_succeeds(self):
        self.service.failures = 3
        self.assertEqual([b.name for b in self.client.list_backbones()], ["fake"])
        self.assertEqual(len(self.service.requests), 4)
        self.assertEqual([r[1] for r in self.retries], [1, 2, 3])
        for rpc, _, error, delay in self.retries:
            self.assertEqual(rpc, "ListBackbones")
            self.assertEqual(error.code, grpc.StatusCode.UNAVAILABLE)
            self.assertEqual(error.message, "fake failure")
            self.assertLessEqual(delay, 0.01)

    def test_gives_up_after_max_attempts(self):
        self.service.failures = 10
        with self.assertRaises(AdaptdError) as caught:
            self.client.list_backbones()
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(caught.exception.attempts, 4)
        self.assertEqual(len(self.service.requests), 4)

    def test_other_errors_are_not_retried(self):
        self.service.failures = 1
        self.service.code = grpc.StatusCode.RESOURCE_EXHAUSTED
        with self.assertRaises(AdaptdError) as caught:
            self.client.list_backbones()
        self.assertEqual(caught.exception.code, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(len(self.service.requests), 1)
        self.assertEqual(self.retries, [])

    def test_adapt_retries_under_one_request_id(self):
        self.service.failures = 2
        adapter = self.client.adapt("fake", [("a", "one text"), ("b", b"\x89PNG")])
        ids = {r.request_id for r in self.service.requests}
        self.assertEqual(len(self.service.requests), 3)
        self.assertEqual(len(ids), 1)
        self.assertEqual(adapter.adapter_id, "id-" + ids.pop())
        support = self.service.requests[0].support
        self.assertEqual(support[0].input.text, "one text")
        self.assertEqual(support[1].input.image, b"\x89PNG")

    def test_adapt_sends_what_it_was_given(self):
        self.client.adapt("fake", {"a": ["x", "y"], "b": "z"}, method="finetune", steps=7,
                          ttl=90, request_id="mine")
        request = self.service.requests[0]
        self.assertEqual([(e.label, e.input.text) for e in request.support],
                         [("a", "x"), ("a", "y"), ("b", "z")])
        self.assertEqual(request.method, adaptd_pb2.FINETUNE)
        self.assertEqual(request.steps, 7)
        self.assertEqual(request.ttl.seconds, 90)
        self.assertEqual(request.request_id, "mine")

    def test_model_control_sends_the_folder_name(self):
        self.service.failures = 1  # UNAVAILABLE: retried like every call.
        self.assertEqual(self.client.load_model("glyphs").state, adaptd_pb2.ModelStatus.READY)
        self.assertEqual(self.client.reload_model("glyphs").version, "reloaded")
        self.assertEqual(self.client.unload_model("glyphs").state,
                         adaptd_pb2.ModelStatus.UNLOADED)
        self.assertEqual([r.model for r in self.service.requests], ["glyphs"] * 4)
        self.assertEqual([r[0] for r in self.retries], ["LoadModel"])
        for bad in ("", "  ", None):
            with self.assertRaisesRegex(TypeError, "model: expected a folder name"):
                self.client.load_model(bad)
        self.assertEqual(len(self.service.requests), 4)

    def test_token_is_sent_as_bearer(self):
        self.client.list_backbones()
        self.assertEqual(self.service.metadata[0].get("authorization"), "Bearer t0k")

    def test_deadline_covers_the_call(self):
        self.service.block = True
        with self.assertRaises(AdaptdError) as caught:
            self.client.list_backbones(timeout=0.2)
        self.assertEqual(caught.exception.code, grpc.StatusCode.DEADLINE_EXCEEDED)

    def test_bad_arguments_name_what_is_wrong(self):
        with self.assertRaisesRegex(ValueError, "method: 'SGD' is not one of"):
            self.client.adapt("fake", {"a": "x"}, method="SGD")
        with self.assertRaisesRegex(TypeError, r"examples\[1\] \(label 'b'\): input of type int"):
            self.client.adapt("fake", {"a": "x", "b": 3})
        with self.assertRaisesRegex(TypeError, r"inputs\[0\]: input of type float"):
            self.client.predict("some-id", [1.5])
        with self.assertRaisesRegex(TypeError, "adapter: expected an adapter id"):
            self.client.predict("", ["x"])
        with self.assertRaisesRegex(ValueError, "max_attempts"):
            Client("127.0.0.1:1", max_attempts=0)
        self.assertEqual(self.service.requests, [])

    @unittest.skipIf(np is None, "numpy is not installed (Debian: python3-numpy)")
    def test_arrays_become_tensors(self):
        pixels = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
        t = adaptd.to_input(pixels).tensor
        self.assertEqual((list(t.shape), t.dtype, t.data), ([1, 2, 3], adaptd_pb2.UINT8,
                                                            bytes(range(6))))
        t = adaptd.to_input(np.array([[1.0, -2.0]], dtype=np.float64)).tensor
        self.assertEqual((list(t.shape), t.dtype), ([1, 2], adaptd_pb2.FLOAT32))
        self.assertEqual(t.data, struct.pack("<2f", 1.0, -2.0))
        with self.assertRaisesRegex(TypeError, "dtype int64"):
            adaptd.to_input(np.zeros(3, dtype=np.int64))


if __name__ == "__main__":
    unittest.main()
