"""A DMS server in Python, with the client generated from the bridge's OpenAPI document
(openapi-python-client): prepare a draft, have it signed, embed the signature, verify it.

    openapi-python-client generate --path src/openapi.json --output-path kyso_client --meta none
    python example.py DRAFT.pdf SIGNED.pdf

Environment: KYSO_BRIDGE_URL, KYSO_BRIDGE_TOKEN, KYSO_SIGN (see ../README.md).
"""

import base64
import os
import subprocess
import sys

from kyso_client import AuthenticatedClient
from kyso_client.api.bridge import embed_signature, prepare_pdf, verify_pdf
from kyso_client.models import (
    EmbedRequest,
    EmbedResponse,
    ErrorResponse,
    PrepareRequest,
    PrepareResponse,
    Report,
    RevocationCheck,
    Role,
    VerifyRequest,
)


def main(draft: str, out: str) -> int:
    client = AuthenticatedClient(
        base_url=os.environ.get("KYSO_BRIDGE_URL", "http://127.0.0.1:47480"),
        token=os.environ["KYSO_BRIDGE_TOKEN"],
        headers={"Accept-Language": "en"},
        timeout=120.0,
    )
    with open(draft, "rb") as f:
        pdf = base64.b64encode(f.read()).decode()

    prepared = prepare_pdf.sync(client=client, body=PrepareRequest(pdf=pdf, role=Role.APPROVE))
    if not isinstance(prepared, PrepareResponse):
        raise SystemExit(f"prepare refused: {prepared.error.code}: {prepared.error.message}")

    # The user signs the digest (in production: the browser, the web SDK and the agent).
    cms = subprocess.run(
        [os.environ["KYSO_SIGN"], prepared.digest], check=True, capture_output=True, text=True
    ).stdout.strip()

    # A broken CMS is refused with a code the server can branch on.
    refused = embed_signature.sync(client=client, body=EmbedRequest(prepared=prepared.prepared, cms="MAA="))
    assert isinstance(refused, ErrorResponse) and refused.error.code.value == "CMS_INVALID", refused
    print(f"refused as expected: {refused.error.code.value}")

    embedded = embed_signature.sync(client=client, body=EmbedRequest(prepared=prepared.prepared, cms=cms))
    if not isinstance(embedded, EmbedResponse):
        raise SystemExit(f"embed refused: {embedded.error.code}: {embedded.error.message}")
    with open(out, "wb") as f:
        f.write(base64.b64decode(embedded.signed))

    report = verify_pdf.sync(
        client=client, body=VerifyRequest(pdf=embedded.signed, revocation=RevocationCheck.OFF)
    )
    assert isinstance(report, Report), report
    verdicts = [s.verdict.value for s in report.signatures]
    print(f"python: {out}: {', '.join(verdicts)}")
    return 0 if verdicts == ["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
