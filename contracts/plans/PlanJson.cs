using System.Text.Json;
using System.Text.Json.Serialization;

namespace SnicRuntime.Contracts.Plans;

/// <summary>Reflection-free (source-generated) JSON for change plans: unknown fields are errors, so a typo is reported, not ignored.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(ChangePlan))]
[JsonSerializable(typeof(PlanDelta))]
internal sealed partial class PlanJsonContext : JsonSerializerContext;

/// <summary>One thing wrong with a plan: where (a JSON path such as <c>$.enis[0].vnet</c>) and why.</summary>
public readonly record struct PlanError(string Path, string Reason)
{
    public override string ToString() => $"{Path}: {Reason}";
}

public static class PlanJson
{
    /// <summary>Largest plan accepted (1M mappings at ~100 bytes each, with room).</summary>
    public const int MaxBytes = 256 << 20;

    /// <summary>Reads a plan; on malformed JSON returns null with one error carrying the path and position.</summary>
    public static ChangePlan? Parse(ReadOnlySpan<byte> utf8, out PlanError? error)
    {
        error = null;
        if (utf8.Length > MaxBytes)
        {
            error = new PlanError("$", $"plan is {utf8.Length} bytes; the limit is {MaxBytes}");
            return null;
        }

        try
        {
            ChangePlan? plan = JsonSerializer.Deserialize(utf8, PlanJsonContext.Default.ChangePlan);
            if (plan is null)
            {
                error = new PlanError("$", "the plan is JSON null; expected an object");
            }

            return plan;
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is long line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            error = new PlanError(e.Path ?? "$", Plain(e.Message) + where);
            return null;
        }
    }

    public static ChangePlan? Parse(string json, out PlanError? error) => Parse(System.Text.Encoding.UTF8.GetBytes(json), out error);

    public static string Write(ChangePlan plan) => JsonSerializer.Serialize(plan, PlanJsonContext.Default.ChangePlan);

    public static string Write(PlanDelta delta) => JsonSerializer.Serialize(delta, PlanJsonContext.Default.PlanDelta);

    /// <summary>Reads a plan delta, as strictly as a plan (unknown fields are errors).</summary>
    public static PlanDelta? ParseDelta(ReadOnlySpan<byte> utf8, out PlanError? error)
    {
        error = null;
        if (utf8.Length > MaxBytes)
        {
            error = new PlanError("$", $"delta is {utf8.Length} bytes; the limit is {MaxBytes}");
            return null;
        }

        try
        {
            PlanDelta? delta = JsonSerializer.Deserialize(utf8, PlanJsonContext.Default.PlanDelta);
            if (delta is null)
            {
                error = new PlanError("$", "the delta is JSON null; expected an object");
            }

            return delta;
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is long line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            error = new PlanError(e.Path ?? "$", Plain(e.Message) + where);
            return null;
        }
    }

    // System.Text.Json's messages end with "Path: $.x | LineNumber: ..."; we report those separately.
    private static string Plain(string message)
    {
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            return "unknown field (see docs/change-plan.md for the schema)";
        }

        if (message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
        {
            return "wrong type for this field";
        }

        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
