using SnicRuntime.Firmware.Plans;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>
/// One worker's pipeline counters, written by that worker only (readers tolerate tearing of
/// in-flight increments, as with every per-worker counter here). Per-ENI and meter arrays are
/// indexed by ENI index, which is stable across generations.
/// </summary>
public sealed class PipelineCounters
{
    public long Outbound;
    public long Inbound;
    public long FlowHits;
    public long FlowMisses;
    public long FlowsCreated;
    /// <summary>Flows made by an older generation, re-decided by the current one on their next packet.</summary>
    public long FlowsReevaluated;
    /// <summary>Re-evaluated flows the new generation no longer allows (deleted).</summary>
    public long FlowsRevoked;
    public long AclEvaluations;
    public long RouteLookups;
    public long MappingLookups;
    public long Encapsulated;
    public long Decapsulated;
    public long NatTranslations;
    /// <summary>Packets of a scope this card is standby for, sent on to the active card.</summary>
    public long HaRedirected;

    public long[] EniPackets { get; } = new long[PolicyTables.MaxEnis];
    public long[] EniBytes { get; } = new long[PolicyTables.MaxEnis];
    public long[] EniDrops { get; } = new long[PolicyTables.MaxEnis];
    public long[] EniFlowsCreated { get; } = new long[PolicyTables.MaxEnis];

    /// <summary>Meter buckets: [(eni × MaxMeterClasses + class) × 2] packets, [+1] bytes.</summary>
    public long[] Meter { get; } = new long[PolicyTables.MaxEnis * PolicyTables.MaxMeterClasses * 2];

    public long MeterPackets(int eni, int meterClass) => Meter[(eni * PolicyTables.MaxMeterClasses + meterClass) * 2];

    public long MeterBytes(int eni, int meterClass) => Meter[(eni * PolicyTables.MaxMeterClasses + meterClass) * 2 + 1];
}
