"""pbssim's vendored schema subset: reproducible from its generator, and exactly what is served."""

import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from pbssim import PbsSimulator
from pbssim.validate import compile_pattern
from pbssim.vendor import DATA_DIR, SCHEMA_FILE, SERVED_ROUTES, missing_routes, subset
from simcore.schema import gzip_compact_json

pytestmark = pytest.mark.timeout(30)
VENDORED = os.path.join(DATA_DIR, SCHEMA_FILE)


def vendored_tree():
    with gzip.open(VENDORED, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def test_regenerating_the_vendored_subset_changes_nothing():
    with open(VENDORED, "rb") as handle:
        vendored = handle.read()
    assert gzip_compact_json(subset(vendored_tree())) == vendored


def test_provenance_names_the_vendored_files_sha256():
    with open(VENDORED, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    with open(os.path.join(DATA_DIR, "PROVENANCE.md"), encoding="utf-8") as handle:
        assert digest in handle.read()


def test_every_served_route_is_in_the_schema_and_has_a_handler():
    assert missing_routes(vendored_tree()) == []
    sim = PbsSimulator(tls=False)
    served = sorted((method, path) for path, methods in SERVED_ROUTES.items() for method in methods)
    assert sorted(sim.handlers) == served == sorted(sim.schema.routes())


def test_every_schema_pattern_compiles_and_cntrl_is_ascii_control():
    patterns = set(re.findall(r'"pattern":"((?:[^"\\]|\\.)*)"', json.dumps(vendored_tree(), separators=(",", ":"))))
    assert patterns
    for pattern in patterns:
        compile_pattern(json.loads('"%s"' % pattern))
    comment = compile_pattern("/^[[:^cntrl:]]*$/")
    assert comment.search("a comment") and not comment.search("two\nlines") and not comment.search("trailing\n")


def test_cli_writes_port_certificate_and_its_fingerprint(tmp_path):
    port_file, cert_file, fingerprint_file = tmp_path / "port", tmp_path / "cert.pem", tmp_path / "fingerprint"
    process = subprocess.Popen([sys.executable, "-m", "pbssim", "--port", "0", "--port-file", str(port_file),
                                "--cert-file", str(cert_file), "--fingerprint-file", str(fingerprint_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=os.path.dirname(DATA_DIR) + "/..")
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert int(port_file.read_text()) > 0
        certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
        expected = certificate.fingerprint(hashes.SHA256()).hex().upper()
        assert fingerprint_file.read_text() == ":".join(expected[i:i + 2] for i in range(0, len(expected), 2))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
