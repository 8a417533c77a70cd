using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Flows;

/// <summary>
/// Decides what to do with the first packet of an unknown flow: the slow-path hook. The policy
/// pipeline (ENI, ACL, routing, mapping) implements it; until then <see cref="DefaultFlowPolicy"/>
/// does. Struct-implemented, so the miss path is a direct call too.
/// </summary>
public interface IFlowMissHandler
{
    /// <summary>
    /// Returns true with the flow's <paramref name="action"/> to create it, or false with a drop
    /// <paramref name="reason"/>.
    /// </summary>
    bool Decide(int ingressPort, in ParsedPacket packet, out uint action, out DropReason reason);
}

/// <summary>Which first packets may create a flow.</summary>
public enum FlowCreation : byte
{
    /// <summary>Any first packet creates a flow (stateless-style).</summary>
    AnyPacket,
    /// <summary>TCP needs a SYN (no ACK) to create a flow; UDP, ICMP and others any packet (SPEC §2).</summary>
    TcpSynOnly,
}

/// <summary>The configurable default until the policy pipeline lands: create the flow and forward to the ingress port's peer.</summary>
public readonly struct DefaultFlowPolicy(PortForwardStage forward, FlowCreation creation) : IFlowMissHandler
{
    public bool Decide(int ingressPort, in ParsedPacket packet, out uint action, out DropReason reason)
    {
        action = forward.PeerOf(ingressPort);
        if (creation == FlowCreation.TcpSynOnly && packet.IsTcp && (packet.TcpFlags & (byte)(TcpFlags.Syn | TcpFlags.Ack)) != (byte)TcpFlags.Syn)
        {
            reason = DropReason.NoFlow;
            return false;
        }

        reason = DropReason.None;
        return true;
    }
}

/// <summary>Per-worker flow counters (written by the worker only).</summary>
public sealed class FlowStageCounters
{
    public long Hits;
    public long Misses;
    /// <summary>Packets without an IP header (ARP) that passed without a flow.</summary>
    public long NonIp;
}

/// <summary>
/// One worker's flow state: an IPv4 and an IPv6 table, the miss handler, the clock, counters.
/// </summary>
public sealed class WorkerFlows<TMiss> : IDisposable where TMiss : struct, IFlowMissHandler
{
    private readonly FlowKeyBurst _burst;
    private TMiss _miss;

    public WorkerFlows(int capacityPerFamily, TMiss miss, AgingPolicy? aging = null, int burst = WorkerVector.MaxPackets)
    {
        V4 = new FlowTable<FlowKeyV4>(capacityPerFamily, aging: aging);
        V6 = new FlowTable<FlowKeyV6>(capacityPerFamily, aging: aging);
        _miss = miss;
        _burst = new FlowKeyBurst(burst);
    }

    public FlowTable<FlowKeyV4> V4 { get; }

    public FlowTable<FlowKeyV6> V6 { get; }

    public FlowStageCounters Counters { get; } = new();

    public uint NowMs { get; private set; }

    public ushort Generation { get; set; }

    public void Tick(uint nowMs)
    {
        NowMs = nowMs;
        V4.AdvanceAging(nowMs);
        V6.AdvanceAging(nowMs);
    }

    /// <summary>
    /// Phases: build every key, bulk-look up each family, apply hits, then handle misses in
    /// packet order (the slow path; later packets of a flow created in this burst find it).
    /// </summary>
    public void Process(int ingressPort, ReadOnlySpan<PacketRef> packets, Span<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops)
    {
        _burst.Clear();
        for (int i = 0; i < meta.Length; i++)
        {
            if (egress[i] != Egress.Pending)
            {
                continue;
            }

            ref readonly ParsedPacket p = ref meta[i];
            if ((p.Flags & PacketFlags.HasIp) == 0)
            {
                // ARP has no flow; the policy still decides where it goes.
                Counters.NonIp++;
                bool pass = _miss.Decide(ingressPort, in p, out uint action, out DropReason reason);
                egress[i] = pass ? (ushort)action : Egress.Drop;
                drops[i] = reason;
                continue;
            }

            ReadOnlySpan<byte> frame = packets[i].Data;
            uint scope = p.IsTunneled ? Math.Min(p.Vni, FlowKeyV4.MaxScope) : 0;
            _burst.Add(i, frame, in p, scope);
        }

        var steps = new Steps(this);
        FlowVector.Run(ref steps, _burst, V4, V6, prefetchEntries: false, ingressPort, packets, meta, egress, drops);
    }

    /// <summary>This stage's steps in the shared skeleton: misses need no decision together (each asks the miss handler).</summary>
    private readonly struct Steps(WorkerFlows<TMiss> owner) : IFlowVectorSteps
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void ApplyHits<TKey>(FlowTable<TKey> table, int n, int[] index, int[] positions, int ingressPort, ReadOnlySpan<PacketRef> packets,
            ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey> =>
            owner.ApplyHits(table, n, index, positions, packets, meta, egress);

        public void NoteMiss(int ordinal, int packet, int position, ReadOnlySpan<ParsedPacket> meta)
        {
        }

        public void DecideMisses(int count, ReadOnlySpan<PacketRef> packets, ReadOnlySpan<ParsedPacket> meta)
        {
        }

        public void Miss<TKey>(FlowTable<TKey> table, in TKey key, bool forward, int ordinal, int packet, int ingressPort, ReadOnlySpan<PacketRef> packets,
            ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey> =>
            owner.Miss(table, in key, forward, ingressPort, packet, packets, meta, egress, drops);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ApplyHits<TKey>(FlowTable<TKey> table, int n, int[] index, int[] positions, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress) where TKey : unmanaged, IFlowKey<TKey>
    {
        // The entries of a burst's hits are scattered over the value array: request them all
        // before touching any, so their misses overlap.
        for (int k = 0; k < n; k++)
        {
            if (positions[k] >= 0)
            {
                table.PrefetchEntry(positions[k]);
            }
        }

        uint now = NowMs;
        for (int k = 0; k < n; k++)
        {
            int pos = positions[k];
            if (pos < 0)
            {
                continue;
            }

            int i = index[k];
            table.Touch(pos, now, meta[i].TcpFlags, packets[i].Length);
            egress[i] = (ushort)table.Entry(pos).Action;
            Counters.Hits++;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Miss<TKey>(FlowTable<TKey> table, in TKey key, bool forward, int ingressPort, int i, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey>
    {
        ref readonly ParsedPacket p = ref meta[i];
        int existing = table.Lookup(key); // created by an earlier packet of this burst?
        if (existing >= 0)
        {
            table.Touch(existing, NowMs, p.TcpFlags, packets[i].Length);
            egress[i] = (ushort)table.Entry(existing).Action;
            Counters.Hits++;
            return;
        }

        Counters.Misses++;
        if (!_miss.Decide(ingressPort, in p, out uint action, out DropReason reason))
        {
            egress[i] = Egress.Drop;
            drops[i] = reason;
            return;
        }

        FlowEntry entry = FlowEntry.ForFirstPacket(action, NowMs, packets[i].Length, Generation, in p, forward);
        if (table.Insert(key, entry, out _) == InsertResult.Full)
        {
            egress[i] = Egress.Drop;
            drops[i] = DropReason.FlowTableFull;
            return;
        }

        egress[i] = (ushort)action;
    }

    public void Dispose()
    {
        V4.Dispose();
        V6.Dispose();
    }
}

/// <summary>The flow table as a worker stage (a struct over the worker's <see cref="WorkerFlows{TMiss}"/>).</summary>
public readonly struct FlowStage<TMiss>(WorkerFlows<TMiss> flows) : IBurstStage where TMiss : struct, IFlowMissHandler
{
    public WorkerFlows<TMiss> Flows => flows;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Process(int ingressPort, ReadOnlySpan<PacketRef> packets, Span<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) =>
        flows.Process(ingressPort, packets, meta, egress, drops);

    public void Tick(uint nowMs) => flows.Tick(nowMs);

    public int Release(Span<PacketRef> packets, Span<ushort> egress, Span<DropReason> drops) => 0;
}
