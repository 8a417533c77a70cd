using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware.Ha.Sync;
using System.Buffers.Binary;
using System.Diagnostics;
using SnicRuntime.Firmware.Pipeline;

namespace SnicRuntime.Firmware.Ha;

/// <summary>What connects a card's workers to HA: their sync queues and the per-ENI modes they read.</summary>
public sealed record HaAttachment(IReadOnlyList<WorkerSync> Workers, HaModeMap Modes);

/// <summary>One HA scope as the management plane configures it on a card.</summary>
public sealed record HaScopeConfig(string Name, IReadOnlyList<string> Enis, HaRole Role, long Term);

/// <summary>A card's HA pairing: who it is, who the peer is, the key, the scopes, the liveness timers.</summary>
public sealed record HaConfig
{
    public required uint CardId { get; init; }

    public required uint PeerId { get; init; }

    /// <summary>32-byte pairing key (set by the management plane at pairing).</summary>
    public required byte[] PairingKey { get; init; }

    public required IReadOnlyList<HaScopeConfig> Scopes { get; init; }

    /// <summary>Probe interval; the peer is lost after <see cref="ProbeMultiplier"/> intervals of silence (BFD's detect multiplier).</summary>
    public int ProbeIntervalMs { get; init; } = 20;

    public int ProbeMultiplier { get; init; } = 5;

    /// <summary>This card's and the peer's underlay addresses (IPv4, host order) for redirecting standby traffic.</summary>
    public uint LocalUnderlay { get; init; }

    public uint PeerUnderlay { get; init; }

    /// <summary>Where terms are kept durably (null: memory only, for tests).</summary>
    public string? TermFile { get; init; }

    /// <summary>Silence after which the management plane (once it has shown up) counts as lost.</summary>
    public int WitnessSilenceMs { get; init; } = 500;

    public HaChannelOptions Channel { get; init; } = new();
}
