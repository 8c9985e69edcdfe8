// End to end in a real browser: Debian's Chromium (headless, driven by playwright-core)
// trusting the agent's own local CA through `kyso trust install` into a throwaway HOME's NSS
// database — no certificate-error flags. The demo page signs as leader, issues as clerk and
// verifies; the downloaded PDF passes pdfsig and pyHanko. Screenshots of every step are saved
// in target/e2e-shots/. Needs KYSO_BIN (the kyso binary) and KYSO_REPO (the repository).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const repo = process.env.KYSO_REPO ?? new URL("../..", import.meta.url).pathname;
const kyso = process.env.KYSO_BIN ?? join(repo, "target/release/kyso");
const shots = join(repo, "target/e2e-shots");
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "kyso-e2e-"));
const dir = join(work, "demo");
const home = join(work, "home");
mkdirSync(home);
let demo, browser, agentPort, pageUrl;

async function startDemo(extra = []) {
  demo = spawn(kyso, ["demo", "--dir", dir, "--web-dir", join(repo, "web-sdk"), "--agent-port", "0", "--bridge-port", "0", ...extra], {
    env: { ...process.env, KYSO_LOG: "error" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: demo.stdout });
  for await (const line of lines) {
    const agent = line.match(/agent listening on https:\/\/127\.0\.0\.1:(\d+)/);
    if (agent) agentPort = Number(agent[1]);
    const open = line.match(/open (http:\/\/127\.0\.0\.1:\d+)\//);
    if (open) {
      pageUrl = open[1];
      break;
    }
  }
  assert.ok(agentPort && pageUrl, "demo did not start");
}

before(async () => {
  execFileSync("bash", [join(repo, "tests/fixtures/make-demo.sh"), dir]);
  await startDemo();
  const install = execFileSync(kyso, ["--data-dir", join(dir, "data"), "trust", "install"], { env: { ...process.env, HOME: home } }).toString();
  assert.match(install, /nssdb/);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    env: { ...process.env, HOME: home },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  demo?.kill();
});

const setPins = (text) => writeFileSync(join(dir, "pins.toml"), text);
const PINS = 'consent = "deny"\n[pins]\n"Lanh dao" = "123456"\n"Van thu" = "654321"\n';

test("leader approves, clerk issues, receiving clerk verifies, in Chromium", async () => {
  setPins(PINS);
  const context = await browser.newContext({ acceptDownloads: true, locale: "vi-VN" });
  const page = await context.newPage();
  await page.goto(pageUrl + "/");
  await page.screenshot({ path: join(shots, "1-draft.png"), fullPage: true });
  await page.click("#approve");
  await page.waitForSelector("#status.ok, #status.bad");
  assert.match(await page.textContent("#status"), /Đã ký: Nguyễn Văn An/);
  await page.screenshot({ path: join(shots, "2-approved.png"), fullPage: true });
  await page.click("#issue");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("UBND"));
  assert.equal(await page.getAttribute("#status", "class"), "ok");
  await page.screenshot({ path: join(shots, "3-issued.png"), fullPage: true });
  await page.click("#verify");
  await page.waitForSelector("#report:not([hidden])");
  const verdicts = await page.$$eval("#report tbody tr td:nth-child(4)", (cells) => cells.map((c) => c.textContent));
  assert.deepEqual(verdicts, ["hợp lệ", "hợp lệ"]);
  assert.match(await page.textContent("#status"), /Đủ điều kiện văn bản phát hành/);
  await page.screenshot({ path: join(shots, "4-verified.png"), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  const signed = join(work, "signed.pdf");
  await download.saveAs(signed);
  const pdfsig = execFileSync("pdfsig", [signed]).toString();
  assert.equal((pdfsig.match(/Signature is Valid\./g) ?? []).length, 2, pdfsig);
  const pyhanko = join(repo, "target/kyso-venv/bin/pyhanko");
  const report = execFileSync(pyhanko, ["sign", "validate", "--pretty-print", "--no-revocation-check", "--trust", join(dir, "token/pki/root.pem"), "--trust-replace", signed]).toString();
  assert.equal((report.match(/judged VALID/g) ?? []).length, 2, report);
  await context.close();
});

test("a site not allowed gets ORIGIN_NOT_ALLOWED, a cancelled PIN USER_CANCELLED, a stopped agent AGENT_NOT_RUNNING", async () => {
  const context = await browser.newContext();
  // Same page served under another origin (localhost instead of 127.0.0.1): not in the policy.
  const foreign = await context.newPage();
  await foreign.goto(pageUrl.replace("127.0.0.1", "localhost") + "/");
  await foreign.click("#approve");
  await foreign.waitForSelector("#status.bad");
  assert.equal(await foreign.evaluate(() => document.body.dataset.error), "ORIGIN_NOT_ALLOWED");
  await foreign.screenshot({ path: join(shots, "5-origin-refused.png"), fullPage: true });

  setPins('action = "cancel"\n');
  const page = await context.newPage();
  await page.goto(pageUrl + "/");
  await page.click("#approve");
  await page.waitForSelector("#status.bad");
  assert.equal(await page.evaluate(() => document.body.dataset.error), "USER_CANCELLED");
  setPins(PINS);

  const code = await page.evaluate(async () => {
    const { connect } = await import("/kyso.js");
    try {
      await connect({ ports: [9], timeoutMs: 2000 });
      return "connected?";
    } catch (e) {
      return e.code;
    }
  });
  assert.equal(code, "AGENT_NOT_RUNNING");
  await context.close();
});

test("an untrusted agent certificate is told apart from a stopped agent", async () => {
  // A browser with an empty NSS database: the agent answers its probe, TLS fails.
  const untrusting = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    env: { ...process.env, HOME: mkdtempSync(join(tmpdir(), "kyso-e2e-home-")) },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const page = await untrusting.newPage();
    await page.goto(pageUrl + "/");
    const code = await page.evaluate(async (port) => {
      const { connect } = await import("/kyso.js");
      try {
        await connect({ ports: [port] });
        return "connected?";
      } catch (e) {
        return e.code;
      }
    }, agentPort);
    assert.equal(code, "CERTIFICATE_NOT_TRUSTED");
  } finally {
    await untrusting.close();
  }
});

test("an existing VGCA-style page signs through the compatibility layer; the page uploads the file", async () => {
  setPins(PINS);
  const context = await browser.newContext();
  const page = await context.newPage();
  let uploaded = null;
  // The DMS's upload handler, as a VGCA page would name it in FileUploadHandler.
  await page.route("**/upload-signed", async (route) => {
    uploaded = route.request().postDataBuffer();
    await route.fulfill({ status: 200, contentType: "text/plain", body: "luu-tru/van-ban-12.pdf" });
  });
  await page.goto(pageUrl + "/");
  const result = await page.evaluate(async (port) => {
    const { vgca } = await import("/kyso.js");
    vgca.configure({ bridge: "", agent: { ports: [port] } });
    vgca.install(window);
    const request = JSON.stringify({ FileName: "/sample.pdf", FileUploadHandler: "/upload-signed", DocNumber: "12" });
    return await new Promise((resolve) => window.vgca_sign_approved(request, resolve));
  }, agentPort);
  const parsed = JSON.parse(result);
  assert.equal(parsed.Status, 0, result);
  assert.equal(parsed.FileServer, "luu-tru/van-ban-12.pdf");
  assert.ok(uploaded && uploaded.includes(Buffer.from("%PDF")) && uploaded.includes(Buffer.from("ETSI.CAdES.detached")));
  // And a refused origin comes back in the callback, with the stable code.
  const foreign = await context.newPage();
  await foreign.goto(pageUrl.replace("127.0.0.1", "localhost") + "/");
  const refused = await foreign.evaluate(async (port) => {
    const { vgca } = await import("/kyso.js");
    vgca.configure({ bridge: "", agent: { ports: [port] } });
    return await new Promise((resolve) => vgca.vgca_sign_issued(JSON.stringify({ FileName: "/sample.pdf" }), resolve));
  }, agentPort);
  assert.equal(JSON.parse(refused).Code, "ORIGIN_NOT_ALLOWED");
  await context.close();
});

test("a DMS page on a public address: blocked by the browser it says so; under the managed policy it signs with no prompt", async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("writing Chromium's managed policy (/etc/chromium) needs root, as CI runs");
    return;
  }
  setPins(PINS);
  // The page's own address is made "public" for Local Network Access, as a DMS on the internet.
  const port = new URL(pageUrl).port;
  const launch = () => chromium.launch({
    executablePath: "/usr/bin/chromium",
    env: { ...process.env, HOME: home },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      `--ip-address-space-overrides=127.0.0.1:${port}=public`],
  });
  const blocked = await launch();
  try {
    const cdp = await blocked.newBrowserCDPSession();
    await cdp.send("Browser.setPermission", { permission: { name: "local-network-access" }, setting: "denied", origin: pageUrl });
    const page = await blocked.newPage();
    await page.goto(pageUrl + "/");
    const refused = await page.evaluate(async (agent) => {
      const { connect } = await import("/kyso.js");
      try {
        await connect({ ports: [agent], timeoutMs: 5000 });
        return { code: "connected?" };
      } catch (e) {
        return { code: e.code, message: e.message };
      }
    }, agentPort);
    assert.equal(refused.code, "LOCAL_NETWORK_BLOCKED", JSON.stringify(refused));
    assert.match(refused.message, /mạng cục bộ/);
  } finally {
    await blocked.close();
  }
  // IT's policy pack: `kyso browsers install` writes Chromium's managed policy from the
  // allowed origins; a new browser reads it and the page signs without any prompt.
  const config = join(work, "lna.toml");
  writeFileSync(config, `allowed_origins = ["${pageUrl}"]\n`);
  const env = { ...process.env, KYSO_POLICY_FILE: join(work, "no-policy.toml") };
  execFileSync(kyso, ["--config", config, "browsers", "install"], { env });
  const allowed = await launch();
  try {
    const status = execFileSync(kyso, ["--config", config, "browsers", "status"], { env }).toString();
    assert.match(status, /^Chromium: pre-allows the DMS origins/m, status);
    const context = await allowed.newContext({ locale: "vi-VN" });
    const page = await context.newPage();
    await page.goto(pageUrl + "/");
    await page.click("#approve");
    await page.waitForSelector("#status.ok, #status.bad");
    assert.match(await page.textContent("#status"), /Đã ký: Nguyễn Văn An/);
  } finally {
    await allowed.close();
    execFileSync(kyso, ["--config", config, "browsers", "uninstall"], { env });
  }
});

test("a page whose DMS attests its requests: an injected script cannot sign, the ticketed request shows the DMS's document", async () => {
  // The same demo, attested: the bridge mints tickets with a DMS key, the agent's policy
  // requires them from the page's origin. The prompt records what each dialog showed.
  demo.kill();
  await new Promise((resolve) => demo.once("exit", resolve));
  const record = join(work, "shown.jsonl");
  setPins(`record = "${record}"\n` + PINS);
  await startDemo(["--attested"]);
  const context = await browser.newContext({ locale: "vi-VN" });
  const page = await context.newPage();
  await page.goto(pageUrl + "/");
  // A script injected into the allowed page (an XSS, an extension): any digest, a reassuring title.
  const injected = await page.evaluate(async (port) => {
    const { connect } = await import("/kyso.js");
    const kyso = await connect({ ports: [port] });
    const [cert] = await kyso.certificates({ kind: "personal" });
    try {
      await kyso.sign({ certificateId: cert.id, digest: btoa(String.fromCharCode(...new Uint8Array(32).fill(9))),
        document: { title: "Thư mời họp", purpose: "approve" } });
      return "signed";
    } catch (e) {
      return e.code;
    }
  }, agentPort);
  assert.equal(injected, "TICKET_REQUIRED");
  assert.ok(!existsSync(record) || readFileSync(record, "utf8").trim() === "", "a dialog opened for the injected request");
  // The page's own request carries the DMS's ticket: it signs, the dialog shows the DMS's title.
  await page.click("#approve");
  await page.waitForSelector("#status.ok, #status.bad");
  assert.match(await page.textContent("#status"), /Đã ký: Nguyễn Văn An/);
  const shown = readFileSync(record, "utf8").trim().split("\n").map((line) => JSON.parse(line));
  const pin = shown.find((s) => s.kind === "pin");
  assert.ok(pin, JSON.stringify(shown));
  assert.equal(pin.view.documents[0].title, "Quyết định về việc thử nghiệm ký số");
  assert.equal(pin.view.documents[0].attested, true);
  assert.equal(pin.view.documents[0].source, "xác nhận bởi hệ thống quản lý văn bản");
  assert.equal(pin.view.allowedBy, "được cơ quan cho phép");
  await page.screenshot({ path: join(shots, "6-attested.png"), fullPage: true });
  await context.close();
});
