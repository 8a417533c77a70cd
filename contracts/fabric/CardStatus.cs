using System.Text.Json;
using System.Text.Json.Serialization;

namespace SnicRuntime.Contracts.Fabric;

/// <summary>
/// What a card tells the fabric at the far end of its port (<c>IAnnouncingPort</c>), as DASH's DPU
/// tells its NPU over BGP and BFD: which ENIs it serves, per HA scope, in which state and under
/// which term, whether it is ready to take a scope's traffic, and its policy generation. The fabric
/// steers each ENI by it; nothing here is per packet.
/// </summary>
public sealed class CardStatus
{
    /// <summary>The card's HA identity (0 when it is not paired).</summary>
    public uint Card { get; set; }

    /// <summary>The generation of the change plan the card runs (0: none yet).</summary>
    public long Generation { get; set; }

    /// <summary>Whether the card's HA peer answers probes (false when not paired).</summary>
    public bool PeerUp { get; set; }

    public List<ScopeStatus> Scopes { get; set; } = [];

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, FabricJsonContext.Default.CardStatus);

    /// <summary>Parses a status; null (with the reason) when it is not one.</summary>
    public static CardStatus? Parse(ReadOnlySpan<byte> json, out string? error)
    {
        try
        {
            CardStatus? s = JsonSerializer.Deserialize(json, FabricJsonContext.Default.CardStatus);
            error = s is null ? "empty status" : null;
            return s;
        }
        catch (JsonException e)
        {
            error = $"{e.Path ?? "$"}: {e.Message}";
            return null;
        }
    }
}

/// <summary>One HA scope on a card (an unpaired card announces one scope with no name and term 0 holding every ENI of its plan).</summary>
public sealed class ScopeStatus
{
    public string Name { get; set; } = "";

    /// <summary>The scope's ENIs by plan name.</summary>
    public List<string> Enis { get; set; } = [];

    /// <summary>The HA state's name (Active, Standby, Standalone, ...).</summary>
    public string State { get; set; } = "";

    public long Term { get; set; }

    /// <summary>The card decides this scope's new flows (Active, Standalone, InitializingToActive).</summary>
    public bool Forwarding { get; set; }

    /// <summary>
    /// The card holds every flow of the scope and decides alone under its term (Active or
    /// Standalone): the readiness barrier a fabric waits for before it moves a scope's traffic here.
    /// </summary>
    public bool Ready { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CardStatus))]
internal sealed partial class FabricJsonContext : JsonSerializerContext;
