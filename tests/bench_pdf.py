#!/usr/bin/env python3
"""PDF benchmark: prepare + embed of 1, 10 and 100 MB PDFs with kyso, and the one-pass `kyso pdf
sign` (prepare, sign on the SoftHSM token, embed in place), against reading the file once (cat),
reading and hashing it once (openssl dgst -sha256, the floor) and pyHanko signing the same file
with a software key; peak memory of each.
Then verify of the signed files, against `pyhanko sign validate` on the same files.
Usage: bench_pdf.py KYSO PYHANKO WORKDIR TOKEN_DIR — prints a table, asserts nothing."""
import base64
import os
import subprocess
import sys
import time

kyso, pyhanko, work, token = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
pki = os.path.join(token, "pki")
env = dict(os.environ, SOFTHSM2_CONF=os.path.join(token, "softhsm2.conf"),
           KYSO_POLICY_FILE=os.path.join(work, "no-policy.toml"), KYSO_LOG="error")
config = os.path.join(work, "config.toml")
with open(config, "w") as f:
    f.write('pkcs11_modules = ["/usr/lib/softhsm/libsofthsm2.so"]\ndiscover_modules = false\n')
pin = os.path.join(work, "pin.toml")
with open(pin, "w") as f:
    f.write('pin = "123456"\n')
cert_id = subprocess.run(["sh", "-c", f"openssl x509 -in {pki}/personal.pem -outform DER | sha256sum | cut -c1-64"],
                         capture_output=True, text=True, check=True).stdout.strip()


def big_pdf(path, megabytes):
    """One page that draws a large uncompressed image (random bytes)."""
    size = megabytes * 1024 * 1024
    side = int((size / 3) ** 0.5)
    data_len = side * side * 3
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im 4 0 R >> >> /Contents 5 0 R >>",
        None,
        b"<< /Length 33 >>\nstream\nq 500 0 0 500 40 300 cm /Im Do Q\nendstream",
    ]
    with open(path, "wb") as f:
        out = [b"%PDF-1.7\n"]
        pos = len(out[0])
        offsets = []
        f.write(out[0])
        for i, body in enumerate(objects, 1):
            offsets.append(pos)
            if body is None:
                head = (b"4 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                        b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (side, side, data_len))
                f.write(head)
                pos += len(head)
                remaining = data_len
                while remaining:
                    chunk = os.urandom(min(remaining, 1 << 20))
                    f.write(chunk)
                    remaining -= len(chunk)
                    pos += len(chunk)
                tail = b"\nendstream\nendobj\n"
            else:
                tail = b"%d 0 obj\n" % i + body + b"\nendobj\n"
            f.write(tail)
            pos += len(tail)
        xref = pos
        f.write(b"xref\n0 6\n0000000000 65535 f \n")
        for o in offsets:
            f.write(b"%010d 00000 n \n" % o)
        f.write(b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)


def run(cmd):
    """Runs cmd; returns (seconds, stdout)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr.decode(errors='replace')}")
    return time.perf_counter() - start, proc.stdout.decode()


def run_rss(cmd):
    """Runs cmd with its output discarded; returns (seconds, peak RSS MiB)."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvpe(cmd[0], cmd, env)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{cmd} failed ({status})")
    return elapsed, usage.ru_maxrss / 1024


verify_rows = []
sign_rows = []
print("PDF benchmark (median of 3): prepare + embed vs one read of the file and vs pyHanko")
print(f"{'size':>6} {'cat s':>7} {'sha256 s':>9} {'kyso s':>8} {'x cat':>6} {'x sha':>6} {'pyHanko s':>10} {'faster':>7} {'kyso MiB':>9} {'pyHanko MiB':>12}")
for mb in (1, 10, 100):
    src = os.path.join(work, f"big-{mb}.pdf")
    big_pdf(src, mb)
    reads, hashes, ours, theirs, ours_rss, their_rss = [], [], [], [], [], []
    one_pass, one_pass_rss = [], []
    verify_ours, verify_theirs, verify_rss = [], [], []
    for _ in range(3):
        reads.append(run_rss(["cat", src])[0])
        hashes.append(run_rss(["openssl", "dgst", "-sha256", src])[0])
        prepared = os.path.join(work, f"big-{mb}.prepared.pdf")
        t1, rss1 = run_rss([kyso, "pdf", "prepare", src, "-o", prepared])
        _, out = run([kyso, "pdf", "prepare", src, "-o", prepared])
        digest = out.strip().splitlines()[-1]
        cms = os.path.join(work, f"big-{mb}.p7s")
        run([kyso, "--config", config, "--data-dir", os.path.join(work, "data"), "--prompter", f"scripted:{pin}",
             "sign", "--cert", cert_id, "--digest", digest, "--out", cms])
        signed = os.path.join(work, f"big-{mb}.signed.pdf")
        t2, rss2 = run_rss([kyso, "pdf", "embed", prepared, "--cms", cms, "-o", signed])
        tv, rssv = run_rss([kyso, "pdf", "verify", signed, "--trust", f"{pki}/root.pem", "--crl", f"{pki}/crls.pem",
                            "--json"])
        verify_ours.append(tv)
        verify_rss.append(rssv)
        tp, _ = run_rss([pyhanko, "sign", "validate", "--no-revocation-check", "--trust", f"{pki}/root.pem",
                         "--trust-replace", signed])
        verify_theirs.append(tp)
        ours.append(t1 + t2)
        ours_rss.append(max(rss1, rss2))
        # A new output each time: replacing an existing file by rename makes ext4 write the new
        # one back at once (auto_da_alloc, its crash safety), a filesystem cost, not signing's.
        one_pass_out = os.path.join(work, f"big-{mb}.onepass.pdf")
        if os.path.exists(one_pass_out):
            os.remove(one_pass_out)
        t4, rss4 = run_rss([kyso, "--config", config, "--data-dir", os.path.join(work, "data"), "--prompter",
                            f"scripted:{pin}", "pdf", "sign", src, "--with", cert_id, "-o", one_pass_out])
        one_pass.append(t4)
        one_pass_rss.append(rss4)
        t3, rss3 = run_rss([pyhanko, "sign", "addsig", "--field", "Sig1", "pemder", "--key", f"{pki}/personal.key",
                            "--cert", f"{pki}/personal.pem", "--no-pass", src, os.path.join(work, f"big-{mb}.pyhanko.pdf")])
        theirs.append(t3)
        their_rss.append(rss3)
    med = lambda v: sorted(v)[len(v) // 2]
    r, h, o, p = med(reads), med(hashes), med(ours), med(theirs)
    print(f"{mb:>4}MB {r:>7.3f} {h:>9.3f} {o:>8.3f} {o / r:>5.1f}x {o / h:>5.1f}x {p:>10.3f} {p / o:>6.1f}x {max(ours_rss):>9.1f} {max(their_rss):>12.1f}")
    verify_rows.append((mb, med(verify_ours), med(verify_theirs), max(verify_rss)))
    sign_rows.append((mb, h, med(one_pass), max(one_pass_rss)))
    for name in ("", ".prepared", ".signed", ".pyhanko", ".onepass"):
        try:
            os.remove(os.path.join(work, f"big-{mb}{name}.pdf"))
        except FileNotFoundError:
            pass
print("targets: kyso <= 3x one read, linear in size, >= 5x faster than pyHanko")
print()
print("kyso pdf sign, one pass (prepare, sign on the token, embed in place) vs one read + SHA-256 (openssl dgst)")
print(f"{'size':>6} {'sha256 s':>9} {'sign s':>8} {'x sha':>6} {'MiB':>6}")
for mb, h, o, rss in sign_rows:
    print(f"{mb:>4}MB {h:>9.3f} {o:>8.3f} {o / h:>5.2f}x {rss:>6.1f}")
print("target: <= 1.5x one read + SHA-256 at 100 MB, memory flat (each run writes a new output: replacing an existing one on ext4 adds its writeback, +70 ms at 100 MB)")
print()
print("verify of the signed file (path, CRLs, change analysis) vs pyhanko sign validate --no-revocation-check")
print(f"{'size':>6} {'kyso s':>8} {'pyHanko s':>10} {'faster':>7} {'kyso MiB':>9}")
for mb, ov, pv, rss in verify_rows:
    print(f"{mb:>4}MB {ov:>8.3f} {pv:>10.3f} {pv / ov:>6.1f}x {rss:>9.1f}")
print("one read: 'cat' copies the file from the page cache; 'sha256' reads and hashes it once (openssl dgst),")
print("the least any signer must do; kyso's time covers two processes (prepare, embed), each one read, hash and write")
