using SnicRuntime.Contracts.Images;
using System.Text.Json.Serialization;
using System.Text.Json;

namespace SnicRuntime.Firmware.Update;

/// <summary>
/// boot.json in the slots directory: which slot runs, which one is on trial, what happened last.
/// Written to a temporary file and renamed, so a power cut leaves the old state or the new one.
/// </summary>
public sealed class BootState
{
    /// <summary>The slot that boots (a, b, or factory: the firmware the supervisor itself came with).</summary>
    public string Active { get; set; } = SlotStore.Factory;

    /// <summary>A slot installed but not yet proven: booted next, committed only when it reports healthy.</summary>
    public string? Trial { get; set; }

    /// <summary>The slot that ran before the last commit (what a later rollback returns to).</summary>
    public string? Previous { get; set; }

    /// <summary>What the last trial came to, for the management plane (e.g. "b committed", "rolled back from b: ...").</summary>
    public string? LastResult { get; set; }

    /// <summary>Bumped on every boot; names the health file of that boot so a stale one never counts.</summary>
    public long BootCount { get; set; }

    public static BootState Load(string path)
    {
        if (!File.Exists(path))
        {
            return new BootState();
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), BootStateJsonContext.Default.BootState) ?? new BootState();
        }
        catch (JsonException e)
        {
            throw new ImageException([$"{path}: {e.Message}"]);
        }
    }

    public void Save(string path)
    {
        string temporary = path + ".new";
        using (var f = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            JsonSerializer.Serialize(f, this, BootStateJsonContext.Default.BootState);
            f.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(BootState))]
internal sealed partial class BootStateJsonContext : JsonSerializerContext;
