using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Flows;

/// <summary>
/// What a flow stage plugs into <see cref="FlowVector.Run"/>: how it applies hits and how it
/// handles misses. Implemented by structs, so each stage's skeleton is compiled with direct calls.
/// </summary>
public interface IFlowVectorSteps
{
    /// <summary>Applies the hits of one family (positions &gt;= 0) of a looked-up vector.</summary>
    void ApplyHits<TKey>(FlowTable<TKey> table, int n, int[] index, int[] positions, int ingressPort, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey>;

    /// <summary>
    /// Miss number <paramref name="ordinal"/> of the vector (packet <paramref name="packet"/>,
    /// its lookup's <paramref name="position"/>), told before any miss is handled so a stage can
    /// decide them together.
    /// </summary>
    void NoteMiss(int ordinal, int packet, int position, ReadOnlySpan<ParsedPacket> meta);

    /// <summary>Called once with the vector's <paramref name="count"/> misses, after every hit is applied and before the first miss is handled.</summary>
    void DecideMisses(int count, ReadOnlySpan<PacketRef> packets, ReadOnlySpan<ParsedPacket> meta);

    /// <summary>Handles miss number <paramref name="ordinal"/> (packet <paramref name="packet"/>): create the flow, find one an earlier packet created, or drop.</summary>
    void Miss<TKey>(FlowTable<TKey> table, in TKey key, bool forward, int ordinal, int packet, int ingressPort, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey>;
}

/// <summary>
/// The one flow-stage skeleton (the flows-only stage and the policy pipeline both run it): the
/// vector's keys, already built into a <see cref="FlowKeyBurst"/>, are looked up in bulk per
/// family, hits are applied, then misses are noted, decided together and handled in packet order.
/// Misses come after every hit because an insert may relocate flows (cuckoo) and invalidate the
/// positions the lookup returned; in packet order because a flow a miss creates may be hit by a
/// later packet of the same vector.
/// </summary>
public static class FlowVector
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TSteps>(ref TSteps steps, FlowKeyBurst burst, FlowTable<FlowKeyV4> v4, FlowTable<FlowKeyV6> v6, bool prefetchEntries,
        int ingressPort, ReadOnlySpan<PacketRef> packets, ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops)
        where TSteps : struct, IFlowVectorSteps
    {
        // Called once per vector by the stages themselves, with their own non-null tables: no checks here.
        int n4 = burst.Count4, n6 = burst.Count6;
        if (n4 != 0)
        {
            v4.LookupBulk(burst.Keys4.AsSpan(0, n4), burst.Positions4, prefetchEntries);
            steps.ApplyHits(v4, n4, burst.Index4, burst.Positions4, ingressPort, packets, meta, egress, drops);
        }

        if (n6 != 0)
        {
            v6.LookupBulk(burst.Keys6.AsSpan(0, n6), burst.Positions6, prefetchEntries);
            steps.ApplyHits(v6, n6, burst.Index6, burst.Positions6, ingressPort, packets, meta, egress, drops);
        }

        int m = 0;
        for (int k = 0; k < n4; k++)
        {
            if (burst.Positions4[k] < 0)
            {
                steps.NoteMiss(m++, burst.Index4[k], burst.Positions4[k], meta);
            }
        }

        for (int k = 0; k < n6; k++)
        {
            if (burst.Positions6[k] < 0)
            {
                steps.NoteMiss(m++, burst.Index6[k], burst.Positions6[k], meta);
            }
        }

        if (m == 0)
        {
            return;
        }

        steps.DecideMisses(m, packets, meta);
        int j = 0;
        for (int k = 0; k < n4; k++)
        {
            if (burst.Positions4[k] < 0)
            {
                steps.Miss(v4, in burst.Keys4[k], burst.Forward4[k], j++, burst.Index4[k], ingressPort, packets, meta, egress, drops);
            }
        }

        for (int k = 0; k < n6; k++)
        {
            if (burst.Positions6[k] < 0)
            {
                steps.Miss(v6, in burst.Keys6[k], burst.Forward6[k], j++, burst.Index6[k], ingressPort, packets, meta, egress, drops);
            }
        }
    }
}
