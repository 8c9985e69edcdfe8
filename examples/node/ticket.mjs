// A DMS server vouches for one signature (Node 18+, no dependency): an ES256 ticket the page
// passes to Kyso with the digest. The workstations' policy holds the matching public key.
//   KYSO_TICKET_KEY=dms.key node ticket.mjs ORIGIN DIGEST TITLE [NUMBER] [PURPOSE]
import { createPrivateKey, sign, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

const key = createPrivateKey(readFileSync(process.env.KYSO_TICKET_KEY)); // P-256, PKCS#8 PEM
const b64url = (data) => Buffer.from(data).toString("base64url");

export function kysoTicket({ origin, digest, title, number, purpose = "approve" }) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "ES256", typ: "JWT" }));
  const claims = b64url(JSON.stringify({
    origin, digest, digestAlgorithm: "SHA-256",
    document: { title, number, purpose },
    iat: now, exp: now + 120, jti: randomUUID(),
  }));
  const signature = sign("sha256", Buffer.from(`${header}.${claims}`), { key, dsaEncoding: "ieee-p1363" });
  return `${header}.${claims}.${b64url(signature)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [origin, digest, title, number, purpose] = process.argv.slice(2);
  console.log(kysoTicket({ origin, digest, title, number, purpose }));
}
