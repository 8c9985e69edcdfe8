#!/usr/bin/env python3
"""Peak memory of the bridge against the command line on one large PDF: prepare, then embed
(the CMS from `kyso sign` on the SoftHSM2 token), through `kyso pdf prepare|embed` (a memory
map, streamed output) and through `kyso bridge` with the file as a multipart binary part (the
large-document form), then the JSON form (base64 in memory) for comparison. Prints figures and
ratios; the target is the multipart bridge within 2x the CLI's peak.

    bench_bridge_memory.py KYSO_BIN TOKEN_DIR WORK_DIR [SIZE_MB]
"""
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

kyso, token_dir, work = sys.argv[1], sys.argv[2], sys.argv[3]
size_mb = int(sys.argv[4]) if len(sys.argv) > 4 else 100
os.makedirs(work, exist_ok=True)
env = dict(os.environ, SOFTHSM2_CONF=f"{token_dir}/softhsm2.conf", KYSO_LOG="error",
           KYSO_POLICY_FILE=f"{work}/no-policy.toml")
config = f"{work}/config.toml"
with open(config, "w") as f:
    f.write('pkcs11_modules = ["/usr/lib/softhsm/libsofthsm2.so"]\ndiscover_modules = false\n'
            'revocation_check = "off"\n')
with open(f"{work}/pin.toml", "w") as f:
    f.write('pin = "123456"\n')
base = [kyso, "--config", config, "--data-dir", f"{work}/data"]


def big_pdf(path, megabytes):
    """A one-page PDF carrying `megabytes` of incompressible data in an unused stream (as a
    scanned annex would), written in 1 MiB pieces."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
               b"<< /Length 36 >>\nstream\nBT /F1 12 Tf 72 770 Td (Hello) Tj ET\nendstream"]
    offsets = []
    with open(path, "wb") as f:
        f.write(b"%PDF-1.7\n")
        for i, body in enumerate(objects):
            offsets.append(f.tell())
            f.write(b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n")
        offsets.append(f.tell())
        length = megabytes << 20
        f.write(b"5 0 obj\n<< /Length %d >>\nstream\n" % length)
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))
        f.write(b"\nendstream\nendobj\n")
        xref = f.tell()
        f.write(b"xref\n0 6\n0000000000 65535 f \n")
        for o in offsets:
            f.write(b"%010d 00000 n \n" % o)
        f.write(b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)


def peak_kib(args, **kw):
    """Runs a command; returns (stdout, its peak RSS in KiB)."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, **kw)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"failed: {args}")
    return out, usage.ru_maxrss


def cert_id():
    der = subprocess.run(["openssl", "x509", "-in", f"{token_dir}/pki/personal.pem", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


def sign(digest_b64, out):
    subprocess.run(base + ["--prompter", f"scripted:{work}/pin.toml", "sign", "--cert", cert_id(),
                           "--digest", digest_b64, "--out", out], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


draft = f"{work}/big.pdf"
big_pdf(draft, size_mb)

# The command line.
out, cli_prepare = peak_kib(base + ["pdf", "prepare", draft, "-o", f"{work}/cli-prepared.pdf"])
digest = out.decode().strip().splitlines()[-1].split()[-1]
sign(digest, f"{work}/cli.p7s")
_, cli_embed = peak_kib(base + ["pdf", "embed", f"{work}/cli-prepared.pdf", "--cms", f"{work}/cli.p7s",
                                "-o", f"{work}/cli-signed.pdf"])
cli = max(cli_prepare, cli_embed)


def bridge():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = subprocess.Popen(base + ["bridge", "--insecure-no-auth", "--listen", f"127.0.0.1:{port}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/healthz")
            break
        except OSError:
            time.sleep(0.1)
    return p, url


def hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# The bridge, the file as a binary part (curl streams it from disk).
p, url = bridge()
idle = hwm_kib(p.pid)
headers = f"{work}/headers.txt"
subprocess.run(["curl", "-fsS", "-D", headers, "-o", f"{work}/bridge-prepared.pdf",
                "-F", "options={\"role\":\"approve\"};type=application/json",
                "-F", f"pdf=@{draft};type=application/pdf", url + "/v1/prepare"], check=True)
digest = next(l.split(":", 1)[1].strip() for l in open(headers) if l.lower().startswith("kyso-digest:"))
sign(digest, f"{work}/bridge.p7s")
cms = base64.b64encode(open(f"{work}/bridge.p7s", "rb").read()).decode()
with open(f"{work}/embed-options.json", "w") as f:
    json.dump({"cms": cms}, f)
subprocess.run(["curl", "-fsS", "-o", f"{work}/bridge-signed.pdf",
                "-F", f"options=<{work}/embed-options.json;type=application/json",
                "-F", f"prepared=@{work}/bridge-prepared.pdf;type=application/pdf", url + "/v1/embed"],
               check=True)
multipart = hwm_kib(p.pid)
p.kill()
p.wait()

# The bridge, JSON with base64 (the small-document form), for comparison.
p, url = bridge()
body = json.dumps({"pdf": base64.b64encode(open(draft, "rb").read()).decode()}).encode()
request = urllib.request.Request(url + "/v1/prepare", data=body, headers={"Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=300).read()
del body
json_peak = hwm_kib(p.pid)
p.kill()
p.wait()

signed_ok = subprocess.run(["pdfsig", f"{work}/bridge-signed.pdf"], capture_output=True, text=True).stdout
mib = lambda k: k / 1024
print(f"bridge memory, {size_mb} MiB PDF: CLI peak RSS prepare {mib(cli_prepare):.0f} MiB, embed {mib(cli_embed):.0f} MiB")
print(f"  bridge, multipart (file streamed to disk, memory map): peak {mib(multipart):.0f} MiB "
      f"(idle {mib(idle):.0f} MiB), ratio to the CLI {multipart / cli:.2f} (target <= 2)")
print(f"  bridge, JSON with base64 (in memory): peak {mib(json_peak):.0f} MiB, ratio {json_peak / cli:.2f}")
print(f"  the bridge's signed file: {'valid for pdfsig' if 'Signature is Valid.' in signed_ok else 'NOT valid'}")
