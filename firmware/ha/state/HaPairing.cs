using SnicRuntime.Firmware.Ha.Channel;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SnicRuntime.Firmware.Ha;

/// <summary>One scope of a pairing request.</summary>
public sealed class HaPairingScope
{
    public string Name { get; set; } = "";

    public List<string> Enis { get; set; } = [];

    /// <summary>"active" or "standby".</summary>
    public string Role { get; set; } = "";

    public long Term { get; set; }
}

/// <summary>
/// What the management plane sends a card to pair it (PUT /v1/ha): identities, the pairing key,
/// where the replication channel listens and where the peer's is, the underlay addresses used to
/// redirect standby traffic, the scopes with their roles and terms, and the liveness timers. The
/// card keeps it in its state directory so a restarted card rejoins by itself.
/// </summary>
public sealed class HaPairing
{
    public uint CardId { get; set; }

    public uint PeerId { get; set; }

    /// <summary>The 32-byte pairing key, base64.</summary>
    public string Key { get; set; } = "";

    /// <summary>address:port this card's replication channel binds (UDP).</summary>
    public string SyncLocal { get; set; } = "";

    /// <summary>address:port of the peer's replication channel.</summary>
    public string SyncPeer { get; set; } = "";

    public string LocalUnderlay { get; set; } = "";

    public string PeerUnderlay { get; set; } = "";

    public int ProbeIntervalMs { get; set; } = 20;

    public int ProbeMultiplier { get; set; } = 5;

    public int WitnessSilenceMs { get; set; } = 500;

    public List<HaPairingScope> Scopes { get; set; } = [];

    public static HaPairing? Parse(ReadOnlySpan<byte> json, out string? error)
    {
        try
        {
            HaPairing? p = JsonSerializer.Deserialize(json, HaPairingJson.Default.HaPairing);
            error = p is null ? "$: empty document" : null;
            return p;
        }
        catch (JsonException e)
        {
            error = $"{e.Path ?? "$"}: {e.Message}";
            return null;
        }
    }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, HaPairingJson.Default.HaPairing);

    /// <summary>Every problem with its JSON path; an empty list means the card can pair with it.</summary>
    public List<(string Path, string Reason)> Validate()
    {
        var e = new List<(string, string)>();
        if (CardId == 0 || PeerId == 0 || CardId == PeerId)
        {
            e.Add(("$.card_id", "card_id and peer_id must be different and non-zero"));
        }

        byte[]? key = null;
        try
        {
            key = Convert.FromBase64String(Key);
        }
        catch (FormatException)
        {
        }

        if (key is not { Length: HaCrypto.KeySize })
        {
            e.Add(("$.key", $"the pairing key must be {HaCrypto.KeySize} bytes in base64"));
        }

        if (!IPEndPoint.TryParse(SyncLocal, out IPEndPoint? local) || local.Port == 0)
        {
            e.Add(("$.sync_local", $"'{SyncLocal}' is not address:port"));
        }

        if (!IPEndPoint.TryParse(SyncPeer, out IPEndPoint? peer) || peer.Port == 0)
        {
            e.Add(("$.sync_peer", $"'{SyncPeer}' is not address:port"));
        }

        foreach ((string path, string value) in new[] { ("$.local_underlay", LocalUnderlay), ("$.peer_underlay", PeerUnderlay) })
        {
            if (!IPAddress.TryParse(value, out IPAddress? a) || a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                e.Add((path, $"'{value}' is not an IPv4 address"));
            }
        }

        if (ProbeIntervalMs is < 1 or > 10_000 || ProbeMultiplier is < 2 or > 100 || WitnessSilenceMs is < 10 or > 600_000)
        {
            e.Add(("$.probe_interval_ms", "probe interval 1..10000 ms, multiplier 2..100, witness silence 10..600000 ms"));
        }

        if (Scopes.Count == 0)
        {
            e.Add(("$.scopes", "at least one scope"));
        }

        var names = new HashSet<string>();
        for (int i = 0; i < Scopes.Count; i++)
        {
            HaPairingScope s = Scopes[i];
            if (string.IsNullOrWhiteSpace(s.Name) || !names.Add(s.Name))
            {
                e.Add(($"$.scopes[{i}].name", "a scope needs a unique name"));
            }

            if (s.Role is not ("active" or "standby"))
            {
                e.Add(($"$.scopes[{i}].role", $"'{s.Role}' is not active or standby"));
            }

            if (s.Term < 1)
            {
                e.Add(($"$.scopes[{i}].term", "terms start at 1"));
            }

            if (s.Enis.Count == 0)
            {
                e.Add(($"$.scopes[{i}].enis", "a scope covers at least one ENI"));
            }
        }

        return e;
    }

    /// <summary>The node configuration (call after <see cref="Validate"/> found nothing).</summary>
    public HaConfig ToConfig(string? termFile) => new()
    {
        CardId = CardId,
        PeerId = PeerId,
        PairingKey = Convert.FromBase64String(Key),
        Scopes = [.. Scopes.Select(s => new HaScopeConfig(s.Name, s.Enis, s.Role == "active" ? HaRole.Active : HaRole.Standby, s.Term))],
        ProbeIntervalMs = ProbeIntervalMs,
        ProbeMultiplier = ProbeMultiplier,
        WitnessSilenceMs = WitnessSilenceMs,
        LocalUnderlay = V4(LocalUnderlay),
        PeerUnderlay = V4(PeerUnderlay),
        TermFile = termFile,
    };

    private static uint V4(string text) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(text).GetAddressBytes());
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(HaPairing))]
internal sealed partial class HaPairingJson : JsonSerializerContext;
