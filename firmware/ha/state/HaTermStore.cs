using System.Text.Json;

namespace SnicRuntime.Firmware.Ha;

/// <summary>
/// Terms per HA scope, durable on the card: written (temp file, fsync, rename) before a term is
/// acted on, read at start, so a restarted card knows the newest term it ever held and refuses
/// older ones.
/// </summary>
public sealed class HaTermStore(string path)
{
    private readonly Lock _gate = new();

    public long Read(string scope)
    {
        lock (_gate)
        {
            return Load().GetValueOrDefault(scope);
        }
    }

    public void Write(string scope, long term)
    {
        lock (_gate)
        {
            Dictionary<string, long> all = Load();
            all[scope] = term;
            string temp = path + ".tmp";
            using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(f, all, HaJsonContext.Default.DictionaryStringInt64);
                f.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
    }

    private Dictionary<string, long> Load()
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using FileStream f = File.OpenRead(path);
        return JsonSerializer.Deserialize(f, HaJsonContext.Default.DictionaryStringInt64) ?? [];
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, long>))]
internal sealed partial class HaJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
