# Kyso: what a user reads, in English (when chosen). Same ids and variables as vi.ftl.

## API error codes (stable; the SDK's MESSAGES are generated from these)

error-origin-not-allowed = This website is not allowed to use digital signing. Contact your IT staff.
error-user-cancelled = Signing was cancelled.
error-timeout = The operation timed out. Please try again.
error-token-not-present = The USB token is not plugged in. Insert it and try again.
error-pin-incorrect = The PIN is incorrect.
error-pin-locked = The PIN is locked. Ask the certificate issuer to unlock the token.
error-certificate-not-found = The certificate was not found on any token.
error-certificate-not-valid = The certificate is expired or not yet valid.
error-certificate-revoked = The certificate (or its CA's certificate) is revoked. Signing is refused; contact the certificate issuer.
error-revocation-unavailable = The certificate's revocation status could not be checked (no OCSP/CRL answer) and the policy requires it. Check the network and try again.
error-bad-request = The request is invalid.
error-busy = The token is busy with another operation.
error-pdf-malformed = The PDF is damaged or not a PDF.
error-limit-exceeded = The input exceeds a safety limit.
error-internal = Internal error. See the Kyso log.
error-unauthorized = The PDF service's access token is missing or wrong (Authorization: Bearer).
error-pdf-encrypted = The PDF is encrypted with a password; send it unencrypted.
error-pdf-not-prepared = The PDF is not prepared for signing (no empty signature field), or is already signed.
error-cms-invalid = The signature (CMS) cannot be read.
error-cms-mismatch = The signature was made for another file, not this prepared file.
error-signature-too-large = The signature is larger than the space reserved in the file; prepare it again with a larger size.
error-placement-not-found = Where the stamp should go is not in the document.
error-image-invalid = The signature or seal image is not a usable PNG file.
error-tsa-unavailable = The timestamp server did not answer, or answered with an unusable token.
error-ticket-invalid = The document management system's confirmation of this request is not valid: nothing was signed.
error-ticket-expired = The document management system's confirmation of this request has expired: reload the page and try again.
error-ticket-replayed = This confirmation from the document management system was already used: reload the page and try again.
error-ticket-required = This site must have each signing request confirmed by its document management system: nothing was signed.

## What an error adds to its code's message (detail-*: not codes, the SDK does not take them)

detail-tries-left = { $n } tries left.
detail-few-tries = A few more wrong PINs will lock the token.
detail-pin-length = The PIN has the wrong length.
detail-certificate-expired = The certificate has expired.

## Error codes only the web page sees (the SDK's own)

error-agent-not-running = The Kyso signing agent is not running on this computer. Install or start Kyso.
error-certificate-not-trusted = The browser does not trust Kyso yet. Run "kyso trust install" or contact IT.
error-local-network-blocked = The browser blocks this page from reaching Kyso. Allow local network access for this site.
error-api-version-unsupported = The installed Kyso version is not compatible. Update Kyso.
error-aborted = The page cancelled the operation.

## What a signature is for (the PIN dialog)

purpose-approve = Approval signature
purpose-issue = Issuing signature
purpose-appendix = Attachment signature
purpose-copy = Copy signature
purpose-incoming = Incoming document signature

## Certificates

kind-personal = personal
kind-organization = organization

## Verdicts (letter 000)

verdict-valid = valid
verdict-unknown = validity unknown
verdict-invalid = invalid

## Labels of a verification report

label-certificate = Certificate
label-verdict = Verdict
label-validation-time = Validation time
label-path = Path

## The verification report (kyso pdf verify)

report-yes = yes
report-no = no
report-time-verified = verified timestamp
report-time-claimed = claimed, not proven
report-none = none
report-policy-scanned-met = Scanned-document policy: met.
report-policy-scanned-not-met = Scanned-document policy NOT met; refuse the document:
report-policy-issued-met = Issued-document policy: met.
report-policy-issued-not-met = Issued-document policy NOT met; refuse the document:
report-no-signature = No signature.
report-signature = Signature
report-issuing-ca = Issuing CA
report-certificate-valid = Certificate valid
report-signed-at = Signed at
report-intact = Intact
report-valid-at-signing-time = Valid at signing time
report-valid-now = Valid now

## Verification reasons, by stable code

reason-byte-range-invalid = no usable /ByteRange
reason-byte-range-gap-not-contents = the /ByteRange gap is not this signature's /Contents string
reason-cms-damaged = unsupported or damaged signature container
reason-no-signer = no signer in the CMS
reason-digest-mismatch = the signed bytes were changed (digest mismatch)
reason-no-signer-certificate = the signer certificate is not in the signature
reason-signature-invalid = the signature value does not verify
reason-modified-after-signing = the document content was changed after this { $timestamp ->
        [yes] document timestamp
       *[no] signature
    }
reason-timestamp-invalid = { $timestamp ->
        [yes] the document timestamp is not valid
       *[no] the signature timestamp is not valid
    }
reason-signing-time-not-proven = the certificate is no longer valid and the signing time is only claimed (no timestamp)
reason-tsa-not-proven = the timestamp is not proven: { $why }
reason-no-trusted-path = the certificate does not chain to a trusted root
reason-expired = a certificate had expired
reason-not-yet-valid = a certificate was not yet valid
reason-issuer-not-ca = an issuer is not a certification authority (forged issuer)
reason-issuer-key-usage = an issuer's key may not sign certificates
reason-path-length = the path is longer than an issuer allows
reason-unknown-critical-extension = a certificate has a critical extension that is not understood
reason-name-constraints = a name is outside an issuer's name constraints
reason-malformed-certificate = a certificate is malformed
reason-key-usage = the certificate may not be used for this purpose
reason-revoked = a certificate was revoked
reason-revoked-later = the certificate was revoked after the proven signing time (the signature stays valid)
reason-revoked-after-claimed-time = the certificate was revoked and the signing time is not proven by a timestamp
reason-crl-invalid = a certificate revocation list is not valid
reason-revocation-unavailable = the revocation status could not be checked
reason-path-building-limit = the certificate path is too complex to check
reason-unsupported-algorithm = a signature algorithm is not supported

## The certificate status check before signing

status-checking = Checking the certificate status…
status-good = Certificate status: not revoked (checked by OCSP/CRL)
status-revoked = The certificate is revoked
status-unknown = WARNING: the certificate's revocation status could not be checked (no OCSP/CRL answer)

## The agent's dialogs

dialog-sign-heading = Sign a document
dialog-final-try = Final try: a wrong PIN locks the token
dialog-tries-left = { $n } tries left
dialog-pinpad = Enter the PIN on the device
dialog-pinpad-waits = The device waits { $seconds } s
dialog-pin = PIN:
dialog-closes-in = Closes in { $seconds } s
dialog-origin-heading = Allow this website to use your digital signature?
dialog-allow-once = Allow once
dialog-allow-always = Always allow
dialog-deny = Deny
dialog-signing-progress = Signing { $done } of { $total }
dialog-keep-token = Do not unplug the token while signing
dialog-stop = Stop
dialog-close = Close
dialog-batch-heading = Sign { $count } documents
dialog-continue = Continue
dialog-document-number = No. { $number }
dialog-title-pin = Kyso — Enter the PIN
dialog-title-pin-final = Kyso — Enter the PIN (final try)
dialog-title-pin-tries = Kyso — Enter the PIN ({ $n } tries left)
dialog-title-pinpad = Kyso — Enter the PIN on the device
dialog-title-batch = Kyso — Sign { $count } documents
dialog-title-progress = Kyso — Signing { $total } documents
dialog-sign = Sign
dialog-cancel = Cancel
dialog-copy = Copy
dialog-origin-question = Allow { $origin } to use your digital signature?
dialog-title-consent = Kyso — Allow a website

## The PIN prompt's lines (dialog and terminal)

prompt-final-try = WARNING: final try, a wrong PIN locks the token
prompt-requested-by = Requested by: { $origin }
prompt-requested-by-cli = Requested by: kyso (command line)
prompt-issued-by = Issued by: { $issuer } — valid until { $until }
prompt-token = Token
prompt-per-signature = The key asks for the PIN for each signature (#{ $n })
prompt-terminal-pin = PIN (empty to cancel)

## The tray

tray-agent-error = Error: Kyso is not running
tray-pin-locked-state = PIN locked: ask the CA to unlock it
tray-expired = Certificate expired
tray-expiring = Certificate expires soon
tray-ready = Ready to sign
tray-no-token = No token plugged in
tray-cert-expired = expired
tray-cert-not-yet-valid = not yet valid
tray-cert-until = until { $until }, { $days } days left
tray-token-removed = removed
tray-token-present = present
tray-pin-locked = PIN locked
tray-export-renewal = Export certificate renewal details
tray-site-by-policy = { $site } (allowed by policy)
tray-revoke-site = Revoke { $site }
tray-no-sites = (none)
tray-allowed-sites = Allowed sites
tray-open-logs = Open the log folder
tray-diagnostics = Diagnostics
tray-quit = Quit Kyso
tray-notice-inserted = Token "{ $label }" plugged in
tray-notice-removed = Token "{ $label }" removed
tray-notice-locked = The PIN of "{ $label }" is locked. Ask the certificate authority (or IT) to unlock it with the PUK/SO PIN.
tray-notice-expiring = { $holder }'s certificate expires in { $days } days: request a renewal

## kyso doctor, kyso certs (and the tray's diagnostics)

doctor-heading = diagnostics
doctor-config = config
doctor-policy = policy
doctor-port = agent address
doctor-absent = absent
doctor-trust-anchors = trust anchors
doctor-certificate-count = { $n } certificates
doctor-failed = FAILED
doctor-module-waiting = not loaded: no token of its kind is connected (loaded when one is plugged in)
doctor-modules = modules
doctor-no-module = none: install the token driver or set pkcs11_modules
doctor-tokens = tokens
doctor-pin-locked = locked: ask the CA to unlock
doctor-certificates = certificates
doctor-expires-soon = EXPIRES SOON: request a renewal
doctor-days-left = { $days } days left
doctor-expired = EXPIRED
doctor-not-yet-valid = NOT YET VALID
doctor-until = until

## The command line

cli-error = Error
cli-no-token = No token found (kyso doctor tells why)
cli-origin-approved = approved by the user
cli-user-approvals-off = user approvals are turned off by policy
cli-revoked = revoked
cli-not-approved = was not approved by the user
cli-trusted = trusted
cli-not-trusted = not trusted
cli-ca-not-installed = the CA could not be installed (is certutil from libnss3-tools installed?)
cli-leaf-days-left = { $days } days left on the TLS leaf
cli-revocation-policy = Revocation check before signing
cli-not-checked = not checked
cli-revoked-upper = REVOKED
cli-signed = Signed

## Certificate renewal (the tray)

renewal-heading = Certificate renewal details
renewal-saved = saved
renewal-paste = Paste into the renewal list for the CA.

## Where the document's number and date are written (kyso pdf sign/prepare)

places-form-fields = number and date: empty form fields created for the clerk
places-recorded = number and date: the draft already carries signatures, so their places are recorded in this signature (the clerk's signature will draw them; no form field is added, which keeps the earlier signatures valid)
places-filled-fields = number and date: written into the form fields the leader's signature created
places-signature-widgets = number and date: drawn by this signature in the places the leader recorded (keeps the earlier signatures valid)

## What the PIN and batch dialogs show (one language at a time)

action-approve = Sign to approve
action-issue = Sign to issue
action-appendix = Sign an attachment
action-copy = Sign a copy
action-incoming = Sign an incoming document
dialog-attested = confirmed by the document management system
dialog-stated-by-page = as stated by the web page
dialog-stated-by-cli = as given on the command line
dialog-allowed-by-agency = allowed by your agency
dialog-allowed-by-user = allowed by you earlier
dialog-requester = Requested by
dialog-requester-cli = kyso (command line)
dialog-issuer = Issued by
dialog-valid-until = valid until
dialog-expires-soon = This certificate expires in { $days } days: ask for a renewal.
dialog-section-document = Document
dialog-section-certificate = Certificate
dialog-section-requester = Request
dialog-app-name = Kyso — digital signature agent
