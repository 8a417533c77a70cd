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
    private readonly FlowKeyV4[] _keys4;
    private readonly FlowKeyV6[] _keys6;
    private readonly int[] _index4;
    private readonly int[] _index6;
    private readonly int[] _pos4;
    private readonly int[] _pos6;
    private readonly bool[] _forward4;
    private readonly bool[] _forward6;
    private TMiss _miss;

    public WorkerFlows(int capacityPerFamily, TMiss miss, AgingPolicy? aging = null, int burst = 256)
    {
        V4 = new FlowTable<FlowKeyV4>(capacityPerFamily, aging: aging);
        V6 = new FlowTable<FlowKeyV6>(capacityPerFamily, aging: aging);
        _miss = miss;
        _keys4 = new FlowKeyV4[burst];
        _keys6 = new FlowKeyV6[burst];
        _index4 = new int[burst];
        _index6 = new int[burst];
        _pos4 = new int[burst];
        _pos6 = new int[burst];
        _forward4 = new bool[burst];
        _forward6 = new bool[burst];
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
        int n4 = 0, n6 = 0;
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
            int l3 = p.L3;
            if (p.IsIpv6)
            {
                _keys6[n6] = FlowKeyV6.Create(scope, frame.Slice(l3 + 8, 16), frame.Slice(l3 + 24, 16), p.SrcPort, p.DstPort, p.L4Protocol, out _forward6[n6]);
                _index6[n6++] = i;
            }
            else
            {
                _keys4[n4] = FlowKeyV4.Create(scope, BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 12)..]),
                    BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 16)..]), p.SrcPort, p.DstPort, p.L4Protocol, out _forward4[n4]);
                _index4[n4++] = i;
            }
        }

        if (n4 != 0)
        {
            V4.LookupBulk(_keys4.AsSpan(0, n4), _pos4);
            ApplyHits(V4, n4, _index4, _pos4, packets, meta, egress);
        }

        if (n6 != 0)
        {
            V6.LookupBulk(_keys6.AsSpan(0, n6), _pos6);
            ApplyHits(V6, n6, _index6, _pos6, packets, meta, egress);
        }

        // Slow path, after every hit is applied: inserting may relocate flows (cuckoo), which
        // would invalidate positions looked up above.
        for (int k = 0; k < n4; k++)
        {
            if (_pos4[k] < 0)
            {
                Miss(V4, in _keys4[k], _forward4[k], ingressPort, _index4[k], packets, meta, egress, drops);
            }
        }

        for (int k = 0; k < n6; k++)
        {
            if (_pos6[k] < 0)
            {
                Miss(V6, in _keys6[k], _forward6[k], ingressPort, _index6[k], packets, meta, egress, drops);
            }
        }
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
}
