package nmc.connect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.kafka.connect.errors.RetriableException;

/**
 * Schema lookup over the Confluent Schema Registry API only (Apicurio ccompat, Confluent, Karapace).
 *
 * <p>Reads {@code GET /subjects/<subject>/versions} and each version's schema, and picks the one
 * whose {@code nmc.version} equals the row's {@code schema_version}; a registry that drops custom
 * properties falls back to the subject's latest version (same major: the subject names it).
 * Results are cached per (subject, schema_version): registered schemas are immutable.
 */
public final class ConfluentRegistryLookup implements SchemaLookup {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String baseUrl;
    private final Duration timeout;
    private final HttpClient http;
    private final Map<String, Registered> cache = new ConcurrentHashMap<>();

    public ConfluentRegistryLookup(String baseUrl, Duration timeout) {
        this.baseUrl = baseUrl.replaceAll("/+$", "");
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    @Override
    public Registered lookup(String subject, String schemaVersion) {
        String cacheKey = subject + "@" + schemaVersion;
        Registered hit = cache.get(cacheKey);
        if (hit != null) {
            return hit;
        }
        String path = "/subjects/" + URLEncoder.encode(subject, StandardCharsets.UTF_8) + "/versions";
        JsonNode versions = get(path, subject);
        List<Candidate> candidates = new ArrayList<>();
        for (JsonNode version : versions) {
            JsonNode entry = get(path + "/" + version.asInt(), subject);
            Schema schema = new Schema.Parser().parse(entry.get("schema").asText());
            candidates.add(new Candidate(version.asInt(), entry.get("id").asInt(), schema));
        }
        Registered chosen = choose(candidates, schemaVersion)
            .orElseThrow(() -> new UnregisteredSchemaException(
                "schema " + subject + " is not registered (run `nmc schemas register`)"));
        cache.put(cacheKey, chosen);
        return chosen;
    }

    /** One registered version of a subject. */
    record Candidate(int version, int id, Schema schema) {}

    /** Exact {@code nmc.version} match first, else the latest version (pure: unit tested). */
    static java.util.Optional<Registered> choose(List<Candidate> candidates, String schemaVersion) {
        Candidate latest = null;
        for (Candidate c : candidates) {
            if (schemaVersion.equals(c.schema().getProp("nmc.version"))) {
                return java.util.Optional.of(new Registered(c.id(), c.schema()));
            }
            if (latest == null || c.version() > latest.version()) {
                latest = c;
            }
        }
        boolean anyTagged = candidates.stream().anyMatch(c -> c.schema().getProp("nmc.version") != null);
        if (latest == null || anyTagged) {
            // Tagged versions exist but none is this one: the writer's schema is not registered.
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new Registered(latest.id(), latest.schema()));
    }

    private JsonNode get(String path, String subject) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + path))
            .timeout(timeout)
            .header("Accept", "application/vnd.schemaregistry.v1+json, application/json")
            .GET()
            .build();
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException exc) {
            throw new RetriableException("schema registry unavailable: " + exc, exc);
        } catch (InterruptedException exc) {
            Thread.currentThread().interrupt();
            throw new RetriableException("interrupted while asking the schema registry", exc);
        }
        int status = response.statusCode();
        if (status == 404) {
            throw new UnregisteredSchemaException(
                "schema " + subject + " is not registered (run `nmc schemas register`)");
        }
        if (status >= 500 || status == 408 || status == 429) {
            throw new RetriableException("schema registry answered " + status + " for " + path);
        }
        if (status != 200) {
            throw new UnregisteredSchemaException(
                "schema registry answered " + status + " for " + path + ": " + response.body());
        }
        try {
            return JSON.readTree(response.body());
        } catch (IOException exc) {
            throw new RetriableException("unreadable schema registry answer for " + path, exc);
        }
    }
}
