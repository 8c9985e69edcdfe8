// A DMS server in Java (JDK 11+, java.net.http only, no Maven dependency): prepare a draft
// with `kyso bridge`, have it signed, embed the signature, verify the result.
//   java Example.java DRAFT.pdf SIGNED.pdf
// Environment: KYSO_BRIDGE_URL, KYSO_BRIDGE_TOKEN, KYSO_SIGN (see ../README.md).
// A real server would use its JSON library (Jackson, Gson); the bridge's answers here are read
// with a small pattern so that the example needs nothing but the JDK.

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class Example {
    static final String BRIDGE = System.getenv().getOrDefault("KYSO_BRIDGE_URL", "http://127.0.0.1:47480");
    static final HttpClient HTTP = HttpClient.newHttpClient();

    /** A refusal from the bridge, with its stable code. */
    static class BridgeException extends IOException {
        final String code;
        BridgeException(String code, String message) {
            super(code + ": " + message);
            this.code = code;
        }
    }

    static String call(String path, String json) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(BRIDGE + path))
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + System.getenv("KYSO_BRIDGE_TOKEN"))
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build();
        HttpResponse<String> reply = HTTP.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (reply.statusCode() != 200) {
            throw new BridgeException(field(reply.body(), "code"), field(reply.body(), "message"));
        }
        return reply.body();
    }

    /** The first string value of `name` in a JSON text (enough for the bridge's answers). */
    static String field(String json, String name) {
        int at = json.indexOf("\"" + name + "\"");
        if (at < 0) return null;
        int start = json.indexOf('"', json.indexOf(':', at) + 1) + 1;
        StringBuilder value = new StringBuilder();
        for (int i = start; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c == '"') return value.toString();
            if (c == '\\') c = json.charAt(++i); // \" and \\; the bridge's base64 has none
            value.append(c);
        }
        return null;
    }

    static String sign(String digest) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(System.getenv("KYSO_SIGN"), digest).redirectErrorStream(false).start();
        String cms = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        if (p.waitFor() != 0) throw new IOException("signing failed");
        return cms;
    }

    public static void main(String[] args) throws Exception {
        String pdf = Base64.getEncoder().encodeToString(Files.readAllBytes(Path.of(args[0])));
        String prepared = call("/v1/prepare", "{\"pdf\":\"" + pdf + "\",\"role\":\"approve\"}");
        String cms = sign(field(prepared, "digest"));
        try {
            call("/v1/embed", "{\"prepared\":\"" + pdf + "\",\"cms\":\"" + cms + "\"}");
            throw new IllegalStateException("an unprepared file was accepted");
        } catch (BridgeException e) {
            if (!e.code.equals("PDF_NOT_PREPARED")) throw e;
            System.out.println("refused as expected: " + e.code);
        }
        String embedded = call("/v1/embed",
                "{\"prepared\":\"" + field(prepared, "prepared") + "\",\"cms\":\"" + cms + "\"}");
        String signed = field(embedded, "signed");
        Files.write(Path.of(args[1]), Base64.getDecoder().decode(signed));
        String report = call("/v1/verify", "{\"pdf\":\"" + signed + "\",\"revocation\":\"off\"}");
        List<String> verdicts = new ArrayList<>();
        Matcher m = Pattern.compile("\"verdict\"\\s*:\\s*\"(\\w+)\"").matcher(report);
        while (m.find()) verdicts.add(m.group(1));
        System.out.println("java: " + args[1] + ": " + String.join(", ", verdicts));
        System.exit(verdicts.equals(List.of("valid")) ? 0 : 1);
    }
}
