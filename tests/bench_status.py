#!/usr/bin/env python3
"""What the certificate status check before signing costs the signer (Thông tư 15/2025).

Usage: bench_status.py KYSO_BIN WORK_DIR

A loopback PKI (tests/fixtures/make-revocation-pki.sh) with `openssl ocsp` behind a proxy that
can delay its answers, the CRLs over HTTP, and two `kyso serve` agents on the PKI's SoftHSM2
token: one with revocation_check = "warn", one with "off". Prints:
  1. warm cache: /v1/sign round trips, interleaved between the two agents (median of N); the
     ratio check/no-check is the figure (target <= 1.1).
  2. cold check against a slow responder (1.5 s) while the signer takes 2 s to type the PIN
     (the scripted prompt's delay): the round trip with the check against the same without
     it, and against the sum a check made before the dialog would cost.
"""
import http.client
import http.server
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

KYSO, WORK = sys.argv[1], os.path.abspath(sys.argv[2])
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGIN = "https://bench.kyso.test"
DIGEST = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


proxy_port, ocsp_port, crl_port = free_port(), free_port(), free_port()
pki = os.path.join(WORK, "pki")
subprocess.run(["bash", os.path.join(REPO, "tests/fixtures/make-revocation-pki.sh"), pki, str(proxy_port),
                str(crl_port)], check=True, stdout=subprocess.DEVNULL)
children = []
ocsp_log = open(os.path.join(WORK, "ocsp.log"), "w")
children.append(subprocess.Popen(
    ["openssl", "ocsp", "-index", "index.txt", "-port", str(ocsp_port), "-rsigner", "ocsp.pem", "-rkey",
     "ocsp.key", "-CA", "ca.pem", "-ndays", "1"], cwd=pki, stdout=subprocess.DEVNULL, stderr=ocsp_log))
children.append(subprocess.Popen(
    ["python3", "-m", "http.server", str(crl_port), "--bind", "127.0.0.1", "--directory", "crl"], cwd=pki,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
delay = {"seconds": 0.0}


class Slow(http.server.BaseHTTPRequestHandler):
    """Forwards OCSP requests to `openssl ocsp` after `delay` seconds."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(delay["seconds"])
        request = urllib.request.Request(f"http://127.0.0.1:{ocsp_port}/", data=body,
                                         headers={"Content-Type": "application/ocsp-request"})
        answer = urllib.request.urlopen(request, timeout=10).read()
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


proxy = http.server.ThreadingHTTPServer(("127.0.0.1", proxy_port), Slow)
threading.Thread(target=proxy.serve_forever, daemon=True).start()
deadline = time.time() + 20
while "waiting for OCSP client" not in open(os.path.join(WORK, "ocsp.log")).read():
    assert time.time() < deadline, "openssl ocsp did not start"
    time.sleep(0.05)
while True:  # the CRL server
    try:
        socket.create_connection(("127.0.0.1", crl_port), timeout=1).close()
        break
    except OSError:
        assert time.time() < deadline, "the CRL server did not start"
        time.sleep(0.05)


def der_id(name):
    der = subprocess.run(["openssl", "x509", "-in", os.path.join(pki, f"{name}.pem"), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


class Agent:
    def __init__(self, name, policy):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "config.toml"), "w") as f:
            f.write('pkcs11_modules = ["/usr/lib/softhsm/libsofthsm2.so"]\ndiscover_modules = false\n'
                    f'allowed_origins = ["{ORIGIN}"]\nrevocation_check = "{policy}"\n')
        self.prompt = os.path.join(self.dir, "prompt.toml")
        self.set_prompt_delay(0)
        env = dict(os.environ, SOFTHSM2_CONF=os.path.join(pki, "token/softhsm2.conf"),
                   KYSO_POLICY_FILE="/nonexistent/policy.toml", KYSO_LOG="error")
        self.child = subprocess.Popen(
            [KYSO, "--config", os.path.join(self.dir, "config.toml"), "--data-dir", os.path.join(self.dir, "data"),
             "--prompter", f"scripted:{self.prompt}", "serve", "--port", "0"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        children.append(self.child)
        line = self.child.stdout.readline()
        self.port = int(line.strip().rsplit(":", 1)[1])
        context = ssl.create_default_context(cafile=os.path.join(self.dir, "data/tls/ca.pem"))
        self.connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=60)

    def set_prompt_delay(self, ms):
        with open(self.prompt, "w") as f:
            f.write(f'pin = "123456"\ndelay_ms = {ms}\n')

    def sign(self, cert):
        body = json.dumps({"certificateId": cert, "digest": DIGEST, "digestAlgorithm": "SHA-256",
                           "document": {"title": "Đo thời gian ký", "purpose": "approve"}})
        started = time.perf_counter()
        self.connection.request("POST", "/v1/sign", body=body,
                                headers={"Origin": ORIGIN, "Content-Type": "application/json"})
        response = self.connection.getresponse()
        answer = json.loads(response.read())
        elapsed = time.perf_counter() - started
        assert response.status == 200, answer
        return elapsed, answer


try:
    checked, unchecked = Agent("warn", "warn"), Agent("off", "off")
    good = der_id("good")
    _, first = checked.sign(good)  # fills the cache
    assert first["revocationStatus"] == "good", first
    unchecked.sign(good)
    n = int(os.environ.get("KYSO_BENCH_STATUS_N", "200"))
    with_check, without = [], []
    for _ in range(n):
        with_check.append(checked.sign(good)[0])
        without.append(unchecked.sign(good)[0])
    a, b = statistics.median(with_check), statistics.median(without)
    print(f"status check, warm cache: /v1/sign median {a * 1000:.2f} ms with the check, "
          f"{b * 1000:.2f} ms without (policy off), ratio {a / b:.2f} (target <= 1.1), n={n} interleaved")

    # Cold: a fresh agent (empty cache), a responder that takes 1.5 s, a signer who takes 2 s.
    delay["seconds"] = 1.5
    cold, cold_off = Agent("warn-cold", "warn"), Agent("off-cold", "off")
    cold.set_prompt_delay(2000)
    cold_off.set_prompt_delay(2000)
    t_check, answer = cold.sign(good)
    assert answer["revocationStatus"] == "good", answer
    t_off, _ = cold_off.sign(good)
    print(f"status check, cold, responder 1.5 s, PIN typed in 2 s: {t_check:.2f} s with the check, "
          f"{t_off:.2f} s without (ratio {t_check / t_off:.2f}); checking before the dialog would take "
          f"about {t_off + 1.5:.2f} s: the check ran while the dialog was open")
finally:
    for child in children:
        child.kill()
    proxy.shutdown()
