"""API-SSL contexts (as the RouterOS API answers it).

* ``cert``: a self-signed certificate, generated at run time with the
  ``openssl`` CLI when it is installed (once per process), else the test
  certificate shipped in ``certs/``.  Clients must not verify it.
* ``adh``: no certificate, anonymous Diffie-Hellman like a router without a
  certificate in ``/ip service``: TLS <= 1.2 (TLS 1.3 has no anonymous
  suites), ciphers ``ADH:@SECLEVEL=0``, DH params ``certs/dh2048.pem``
  (generated once with ``openssl dhparam 2048``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import ssl
import subprocess
import tempfile
import threading

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "certs")
DH_PARAMS = os.path.join(HERE, "dh2048.pem")
SHIPPED_CERT = os.path.join(HERE, "sim-cert.pem")
SHIPPED_KEY = os.path.join(HERE, "sim-key.pem")
MODES = ("cert", "adh")

_lock = threading.Lock()
_generated: tuple[str, str] | None = None


def certificate() -> tuple[str, str]:
    """(cert, key) paths: freshly generated if ``openssl`` exists, else the shipped pair."""
    global _generated
    with _lock:
        if _generated:
            return _generated
        exe = shutil.which("openssl")
        if exe:
            tmp = tempfile.mkdtemp(prefix="routeros-sim-tls-")
            atexit.register(shutil.rmtree, tmp, True)
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            try:
                subprocess.run([exe, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                                "-out", cert, "-days", "3650", "-subj", "/CN=routeros-sim"],
                               check=True, capture_output=True, timeout=60)
                _generated = (cert, key)
                return _generated
            except (subprocess.SubprocessError, OSError):
                pass
        _generated = (SHIPPED_CERT, SHIPPED_KEY)
        return _generated


def server_context(mode: str) -> ssl.SSLContext:
    if mode not in MODES:
        raise ValueError(f"tls mode must be one of {MODES}, not {mode!r}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if mode == "cert":
        ctx.load_cert_chain(*certificate())
    else:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ADH:@SECLEVEL=0")
        ctx.load_dh_params(DH_PARAMS)
    return ctx


def client_context(mode: str = "cert") -> ssl.SSLContext:
    """A client context that talks to either mode (what librouteros users pass as ssl_wrapper)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if mode == "adh":
        ctx.set_ciphers("ADH:@SECLEVEL=0")
    return ctx
