using System.Text.Json.Serialization;

namespace SnicRuntime.Contracts.Agent;

// What the card agent's API sends and receives (snake_case JSON, source-generated).

public sealed record IdentityReply(string Board, string Model, string FirmwareVersion, string ImageSha256, double UptimeSeconds, int Workers, int Ports);

public sealed record HealthReply(string Status, long Generation, double UptimeSeconds);

/// <summary>
/// The plan a card runs: its generation, the digest of its content (<see cref="Plans.PlanDigest"/>:
/// the management plane sees that a card already runs a share and does not send it again), and how
/// many plans it has installed since it started.
/// </summary>
public sealed record GenerationReply(long Generation, string Digest = "", long Installs = 0, long Deltas = 0);

public sealed record ApplyReply(bool Accepted, long Generation, bool Unchanged, IReadOnlyList<ErrorItem> Errors);

public sealed record ErrorItem(string Path, string Reason);

/// <summary>Every refusal: a status code and a plain reason (plus plan errors when there are).</summary>
public sealed record ProblemReply(int Status, string Error, IReadOnlyList<ErrorItem>? Errors = null);

/// <summary>
/// One worker's counters. <c>BusyNs</c> is time spent on bursts that carried packets (idle polls
/// excluded); <c>LatencyBuckets</c> counts packets per burst-latency bucket whose upper bounds
/// are <see cref="CountersReply.LatencyBoundsNs"/> (the last unbounded).
/// </summary>
public sealed record WorkerReply(int Id, long RxPackets, long RxBytes, long TxPackets, long TxBytes, long Drops, long BusyNs,
    long LatencySumNs, IReadOnlyList<long> LatencyBuckets);

// HaSyncLag: flow changes this card produced that its HA peer has not acknowledged (-1: not paired).

/// <summary>One port: link, counters and how many packets wait in each rx queue (-1: the driver cannot tell).</summary>
public sealed record PortReply(int Id, string Name, bool LinkUp, long RxPackets, long TxPackets, long RxMissed, IReadOnlyList<int> RxQueueDepths);

public sealed record CountersReply(
    long Generation,
    IReadOnlyList<WorkerReply> Workers,
    IReadOnlyDictionary<string, long> DropsByReason,
    long FlowsActive,
    long FlowsCapacity,
    long FlowsCreated,
    long FlowsAged,
    long AuthFailures,
    long PlansInstalled,
    IReadOnlyList<PortReply> Ports,
    double CpuMhz,
    IReadOnlyList<double> LatencyBoundsNs,
    long HaSyncLag,
    bool? HaPeerUp);

public sealed record FlowReply(int Worker, string Eni, byte Protocol, string AddressA, ushort PortA, string AddressB, ushort PortB,
    bool OpenedByA, string Tcp, uint Packets, uint Bytes, uint IdleMs, ushort Generation, string Action);

public sealed record FlowPageReply(IReadOnlyList<FlowReply> Flows, string? Next);

/// <summary>One HA scope on this card.</summary>
public sealed record HaScopeReply(string Name, string State, long Term, string DesiredRole, IReadOnlyList<string> Enis, bool Forwards);

/// <summary>The replication channel's counters.</summary>
public sealed record HaChannelReply(long FramesSent, long Retransmits, long FramesReceived, long FramesDelivered, long PeerRestarts,
    long PayloadBytes, long WireBytes, IReadOnlyDictionary<string, long> DropsByReason);

/// <summary>GET /v1/ha: pairing, scopes, liveness, sync lag and counters.</summary>
public sealed record HaStatusReply(bool Paired, uint CardId, uint PeerId, bool PeerUp, long SyncLag, long FlowsHeld, long HoldFull, long HeldFenced, long RecordsSent,
    long RecordsReceived, IReadOnlyList<HaScopeReply> Scopes, HaChannelReply? Channel);

/// <summary>Body of a scope command (switchover, takeover): the term the management plane issues.</summary>
public sealed record HaCommandRequest(long Term);

/// <summary>An installed slot.</summary>
public sealed record FirmwareSlotReply(string Slot, string Version, string Board, string Created);

/// <summary>GET /v1/firmware: what runs, the slots, the last trial's outcome, and why this card cannot be flashed (null: it can).</summary>
public sealed record FirmwareStatusReply(string? RunningSlot, string RunningVersion, string ImageSha256, string? Active, string? Trial, string? Previous,
    string? LastResult, long BootCount, IReadOnlyList<FirmwareSlotReply> Slots, IReadOnlyList<string> TrustedKeys, string? Refusal);

public sealed record FirmwareInstallReply(string Slot, string Version, string Board);

public sealed record FirmwareRebootReply(string Slot, bool Trial);

/// <summary>What a scope command did.</summary>
public sealed record HaTransitionReply(string Scope, string From, string To, bool Refused, string Why);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(IdentityReply))]
[JsonSerializable(typeof(HealthReply))]
[JsonSerializable(typeof(GenerationReply))]
[JsonSerializable(typeof(ApplyReply))]
[JsonSerializable(typeof(ProblemReply))]
[JsonSerializable(typeof(CountersReply))]
[JsonSerializable(typeof(FlowPageReply))]
[JsonSerializable(typeof(HaStatusReply))]
[JsonSerializable(typeof(HaCommandRequest))]
[JsonSerializable(typeof(HaTransitionReply))]
[JsonSerializable(typeof(FirmwareStatusReply))]
[JsonSerializable(typeof(FirmwareInstallReply))]
[JsonSerializable(typeof(FirmwareRebootReply))]
public sealed partial class AgentJsonContext : JsonSerializerContext;
