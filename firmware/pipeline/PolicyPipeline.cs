using SnicRuntime.Firmware.Plans;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Nat;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>
/// One worker's SDN pipeline (SPEC §2): the slow path decides, the flow table remembers, the fast
/// path applies. Per burst: read the running generation once; classify every packet (VIP,
/// direction by VNI, ENI by MAC) and build its flow key (scope = ENI index); bulk-look up both
/// families; apply hits; then run misses through ACL → route → mapping and create their flows.
/// </summary>
/// <remarks>
/// A flow is one symmetric entry for both directions. Its action word holds the outbound action
/// (index into the generation's action table, meter class in the top 8 bits); the inbound
/// direction is always "deliver to the ENI's VM", which the ENI itself describes. Flows remember
/// the generation that decided them; a packet of an older generation's flow is decided again by
/// the current one (kept and updated if still allowed, deleted and dropped if not).
/// </remarks>
public sealed partial class PolicyPipeline : IDisposable
{
    private readonly PolicyStore _store;
    private readonly FlowKeyBurst _burst;
    private readonly short[] _eniOf;
    private readonly bool[] _outbound;
    private readonly bool[] _redirected;
    private readonly uint[] _action;
    private PolicyTables _tables = null!;

    // One-entry caches for the two per-packet hash lookups: a burst usually comes from one host
    // (one VNI) and few VMs, so most packets repeat the previous packet's answer. Reset with
    // every generation (the tables they came from).
    private PolicyTables? _cachedFor;
    private uint _lastVni = uint.MaxValue;
    private bool _lastOutbound;
    private ulong _lastMac = ulong.MaxValue;
    private int _lastEni = -1;
    // The cached ENI exists and is up: with an outbound VNI, the condition for ClassifyBurst's short path.
    private bool _lastEniUp;

    public PolicyPipeline(PolicyStore store, int flowCapacityPerFamily, AgingPolicy? aging = null, int burst = WorkerVector.MaxPackets)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        V4 = new FlowTable<FlowKeyV4>(flowCapacityPerFamily, aging: aging);
        V6 = new FlowTable<FlowKeyV6>(flowCapacityPerFamily, aging: aging);
        _burst = new FlowKeyBurst(burst);
        _eniOf = new short[burst];
        _outbound = new bool[burst];
        _redirected = new bool[burst];
        _action = new uint[burst];
        AllocateMissState(burst);
    }

    public FlowTable<FlowKeyV4> V4 { get; }

    public FlowTable<FlowKeyV6> V6 { get; }

    public PipelineCounters Counters { get; } = new();

    public uint NowMs { get; private set; }

    public void Tick(uint nowMs)
    {
        NowMs = nowMs;
        V4.AdvanceAging(nowMs);
        V6.AdvanceAging(nowMs);
    }

    public void Process(int ingressPort, ReadOnlySpan<PacketRef> packets, Span<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops)
    {
        PolicyTables? t = _store.Current; // one volatile read: the whole burst sees one generation
        if (t is null)
        {
            for (int i = 0; i < meta.Length; i++)
            {
                if (egress[i] == Egress.Pending)
                {
                    egress[i] = Egress.Drop;
                    drops[i] = DropReason.NoPolicy;
                }
            }

            return;
        }

        _tables = t;
        if (!ReferenceEquals(_cachedFor, t))
        {
            _cachedFor = t;
            _lastVni = uint.MaxValue;
            _lastMac = ulong.MaxValue;
            _lastEniUp = false;
        }

        _burst.Clear();
        bool ha = _sync is not null;
        if (ha)
        {
            _modes = _modeMap!.Modes;
            // Flows the peer sent are installed before the burst looks anything up: a packet that
            // follows a flow's acknowledged create always finds it.
            InstallFromPeer();
        }

        ClassifyBurst(t, ha, ingressPort, packets, meta, egress, drops);
        var steps = new VectorSteps(this);
        FlowVector.Run(ref steps, _burst, V4, V6, prefetchEntries: true, ingressPort, packets, meta, egress, drops);
    }

    /// <summary>
    /// The pipeline's steps in the flow-stage skeleton (<see cref="FlowVector"/>): hits applied
    /// with their action records requested ahead; misses decided burst-wise (ACL, route, mapping
    /// for all of them, pass by pass, <see cref="DecideBurst"/>) before flows are made in packet order.
    /// </summary>
    private readonly struct VectorSteps(PolicyPipeline owner) : IFlowVectorSteps
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void ApplyHits<TKey>(FlowTable<TKey> table, int n, int[] index, int[] positions, int ingressPort, ReadOnlySpan<PacketRef> packets,
            ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey> =>
            owner.ApplyHits(table, n, index, positions, packets, meta, egress, drops, ingressPort);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void NoteMiss(int ordinal, int packet, int position, ReadOnlySpan<ParsedPacket> meta)
        {
            owner._mCannotCreate[ordinal] = position == -1 && CannotCreate(in meta[packet]);
            owner._mPacket[ordinal] = packet;
        }

        public void DecideMisses(int count, ReadOnlySpan<PacketRef> packets, ReadOnlySpan<ParsedPacket> meta) =>
            owner.DecideBurst(owner._tables, count, packets, meta);

        public void Miss<TKey>(FlowTable<TKey> table, in TKey key, bool forward, int ordinal, int packet, int ingressPort, ReadOnlySpan<PacketRef> packets,
            ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey> =>
            owner.Miss(table, in key, forward, ordinal, ingressPort, packets, meta, egress, drops);
    }

    /// <summary>
    /// Phase 1: VIP, direction and ENI of every packet, then its flow key. A method of its own (as
    /// are the later phases): one small loop keeps its few live values in registers, where the
    /// whole burst in one method spilled them to the stack on every packet. Packets that repeat
    /// the previous packet's VNI and ENI take a short path; the rest go through <see cref="Classify"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private unsafe void ClassifyBurst(PolicyTables t, bool ha, int ingressPort, ReadOnlySpan<PacketRef> packets, Span<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops)
    {
        uint vip = t.Vip;
        long[] eniPackets = Counters.EniPackets, eniBytes = Counters.EniBytes;
        short[] eniOf = _eniOf;
        bool[] outboundOf = _outbound, redirected = _redirected;
        FlowKeyBurst burst = _burst;
        long outbound = 0;
        for (int i = 0; i < meta.Length; i++)
        {
            if (egress[i] != Egress.Pending)
            {
                continue;
            }

            // The short path: an outbound IPv4 overlay packet to the VIP from the ENI and VNI of
            // the packet before (most of a burst), HA off. Reads through the data pointer are in
            // bounds: the parser accepted an outer IPv4 header and an inner Ethernet/IPv4 one.
            ref ParsedPacket p = ref meta[i];
            PacketRef packet = packets[i];
            byte* f = packet.DataPointer;
            if (!ha && _lastEniUp && _lastOutbound && p.Vni == _lastVni && p.Tunnel is TunnelKind.Vxlan or TunnelKind.Nvgre
                && (p.Flags & (PacketFlags.OuterIpv6 | PacketFlags.Ipv6 | PacketFlags.HasIp)) == PacketFlags.HasIp
                && BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(f + p.OuterL3 + 16)) == vip
                && TunnelHeaders.ReadMac(new ReadOnlySpan<byte>(f + p.InnerL2 + 6, 6)) == _lastMac)
            {
                int e = _lastEni;
                eniOf[i] = (short)e;
                outboundOf[i] = true;
                redirected[i] = false;
                eniPackets[e]++;
                eniBytes[e] += packet.Length - p.InnerL2;
                outbound++;
                burst.AddV4(i, BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(f + p.InnerL3 + 12)),
                    BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(f + p.InnerL3 + 16)), in p, (uint)e);
                continue;
            }

            DropReason reason = Classify(t, packet, ref p, i);
            if (reason != DropReason.None)
            {
                egress[i] = Egress.Drop;
                drops[i] = reason;
                continue;
            }

            // A packet the peer redirected here is decided here whatever this side's mode: the peer
            // sends only what it believes this card serves, and sending it back would loop.
            redirected[i] = ha && RedirectedToUs(packet.Data, in p);
            if (ha && ModeOfEni(eniOf[i]) == Ha.Sync.HaMode.Standby && !redirected[i])
            {
                RedirectToPeer(t, i, ingressPort, packets, meta, egress, drops);
                continue;
            }

            burst.Add(i, packet.Data, in p, (uint)eniOf[i]);
        }

        Counters.Outbound += outbound;
    }

    /// <summary>SPEC §2: only a SYN creates a TCP flow.</summary>
    private static bool CannotCreate(in ParsedPacket p) =>
        p.IsTcp && (p.TcpFlags & (byte)(TcpFlags.Syn | TcpFlags.Ack)) != (byte)TcpFlags.Syn;

    /// <summary>VIP, direction, ENI; inbound static NAT (before the key, so replies find the flow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason Classify(PolicyTables t, PacketRef packet, ref ParsedPacket p, int i)
    {
        Span<byte> f = packet.Data;
        if (p.Tunnel is not (TunnelKind.Vxlan or TunnelKind.Nvgre) || (p.Flags & PacketFlags.OuterIpv6) != 0
            || (BinaryPrimitives.ReadUInt32BigEndian(f[(p.OuterL3 + 16)..]) != t.Vip && !RedirectedToUs(f, in p)))
        {
            return DropReason.NotToVip;
        }

        if ((p.Flags & PacketFlags.HasIp) == 0)
        {
            return DropReason.OverlayNotIp;
        }

        if (p.Vni != _lastVni)
        {
            _lastVni = p.Vni;
            _lastOutbound = t.OutboundVnis.Get(p.Vni) >= 0;
        }

        bool outbound = _lastOutbound;
        ulong mac = TunnelHeaders.ReadMac(f[(p.InnerL2 + (outbound ? 6 : 0))..]);
        if (mac != _lastMac)
        {
            _lastMac = mac;
            _lastEni = t.EniByMac.Get(mac);
            _lastEniUp = _lastEni >= 0 && t.Enis[_lastEni]!.AdminUp;
        }

        int e = _lastEni;
        if (e < 0)
        {
            return DropReason.UnknownEni;
        }

        PipelineCounters c = Counters;
        Eni eni = t.Enis[e]!;
        if (!eni.AdminUp)
        {
            c.EniDrops[e]++;
            return DropReason.EniAdminDown;
        }

        _eniOf[i] = (short)e;
        _outbound[i] = outbound;
        c.EniPackets[e]++;
        c.EniBytes[e] += f.Length - p.InnerL2;
        if (outbound)
        {
            c.Outbound++;
        }
        else
        {
            c.Inbound++;
            if (p.IsIpv6 && t.ServiceTunnels.Length != 0)
            {
                DropReason nat64 = ServiceTunnelReturn(t, f, ref p);
                if (nat64 != DropReason.None)
                {
                    c.EniDrops[e]++;
                    return nat64;
                }
            }

            if (eni.NatIn is not null && !p.IsIpv6)
            {
                int inside = eni.NatIn.Get(BinaryPrimitives.ReadUInt32BigEndian(f[(p.L3 + 16)..]));
                if (inside >= 0)
                {
                    StaticNat.Rewrite(f, p.L3, p.L4, p.L4Protocol, p.HasL4, source: false, (uint)inside);
                    c.NatTranslations++;
                }
            }
        }

        return DropReason.None;
    }

    /// <summary>Phases 3 and 4 for one family: read the hits' entries, request their action records, then apply them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ApplyHits<TKey>(FlowTable<TKey> table, int n, int[] index, int[] positions, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops, int ingressPort) where TKey : unmanaged, IFlowKey<TKey>
    {
        ReadHits(table, n, index, positions, packets, meta);
        RequestActions(n, positions);
        ApplyActions(table, n, index, positions, packets, meta, egress, drops, ingressPort);
    }

    /// <summary>
    /// Phase 3: the entries were requested by LookupBulk's last loop. Read each entry (generation
    /// check, counters) and keep its action word for <see cref="RequestActions"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReadHits<TKey>(FlowTable<TKey> table, int n, int[] index, int[] positions, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta) where TKey : unmanaged, IFlowKey<TKey>
    {
        ushort generation = _tables.Generation16;
        uint[] stash = _action;
        uint now = NowMs;
        for (int k = 0; k < n; k++)
        {
            int pos = positions[k];
            if (pos < 0)
            {
                continue;
            }

            ref FlowEntry entry = ref table.Entry(pos);
            if (entry.Generation != generation)
            {
                positions[k] = -2; // decided by an older generation: the slow path decides again
                continue;
            }

            int i = index[k];
            table.Touch(ref entry, pos, now, meta[i].TcpFlags, packets[i].Length);
            uint action = entry.Action;
            stash[k] = action;
        }
    }

    /// <summary>
    /// Requests every hit's action record, in a loop that does nothing else: requested from
    /// <see cref="ReadHits"/>, each waited behind that loop's own entry reads, and far fewer were
    /// in flight at once (see <see cref="FlowTable{TKey}.LookupBulk"/>). Phase 4 then finds them.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RequestActions(int n, int[] positions)
    {
        ActionTable actions = _tables.Actions;
        uint[] stash = _action;
        for (int k = 0; k < n; k++)
        {
            if (positions[k] >= 0)
            {
                actions.Prefetch(stash[k] & PolicyTables.NoAction);
            }
        }
    }

    public void Dispose()
    {
        V4.Dispose();
        V6.Dispose();
    }
}
