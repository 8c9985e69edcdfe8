<?php
// A DMS server in PHP (php-cli with the curl extension): prepare a draft with `kyso bridge`,
// have it signed, embed the signature, verify the result.
//   php example.php DRAFT.pdf SIGNED.pdf
// Environment: KYSO_BRIDGE_URL, KYSO_BRIDGE_TOKEN, KYSO_SIGN (see ../README.md).

$bridge = getenv('KYSO_BRIDGE_URL') ?: 'http://127.0.0.1:47480';
$token = getenv('KYSO_BRIDGE_TOKEN');

/** POSTs JSON to the bridge; throws with the stable error code on a refusal. */
function call(string $path, array $body): array
{
    global $bridge, $token;
    $curl = curl_init($bridge . $path);
    curl_setopt_array($curl, [
        CURLOPT_POST => true,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_HTTPHEADER => [
            'Content-Type: application/json',
            'Authorization: Bearer ' . $token,
            'Accept-Language: vi',
        ],
        CURLOPT_POSTFIELDS => json_encode($body),
    ]);
    $text = curl_exec($curl);
    $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
    curl_close($curl);
    $json = json_decode($text, true);
    if ($status !== 200) {
        throw new RuntimeException($json['error']['message'], $status, null);
    }
    return $json;
}

[$script, $draft, $out] = $argv;
$pdf = base64_encode(file_get_contents($draft));

$prepared = call('/v1/prepare', ['pdf' => $pdf, 'role' => 'approve']);
// The user signs the digest (in production: the browser, the web SDK and the agent).
$cms = trim(shell_exec(escapeshellcmd(getenv('KYSO_SIGN')) . ' ' . escapeshellarg($prepared['digest'])));
$embedded = call('/v1/embed', ['prepared' => $prepared['prepared'], 'cms' => $cms]);
file_put_contents($out, base64_decode($embedded['signed']));

$report = call('/v1/verify', ['pdf' => $embedded['signed'], 'revocation' => 'off']);
$verdicts = array_map(fn ($s) => $s['verdict'], $report['signatures']);
echo "php: $out: " . implode(', ', $verdicts) . "\n";
exit($verdicts === ['valid'] ? 0 : 1);
