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

/// <summary>The fast path's actions: rewrite (encap, decap, NAT), meter, choose the port.</summary>
public sealed partial class PolicyPipeline
{
    /// <summary>
    /// Phase 4 for one family: meter, rewrite and choose the port of every hit. The two common
    /// rewrites (outbound encap to a mapping's PA, inbound delivery to the VM's host) run inline
    /// with every table the loop reads held in locals; the rest (NAT, service tunnels, direct,
    /// route-miss replies) goes through <see cref="Rewrite"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ApplyActions<TKey>(FlowTable<TKey> table, int n, int[] index, int[] positions, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops, int ingressPort) where TKey : unmanaged, IFlowKey<TKey>
    {
        PolicyTables t = _tables;
        ActionTable actions = t.Actions;
        Eni?[] enis = t.Enis;
        long[] meter = Counters.Meter;
        short[] eniOf = _eniOf;
        bool[] outbound = _outbound;
        uint[] stash = _action;
        bool holding = _hold is not null;
        ushort port = (ushort)(t.UplinkPort >= 0 ? t.UplinkPort : ingressPort);
        ulong applianceMac = t.ApplianceMac, neighborMac = t.NeighborMac;
        uint vip = t.Vip;
        int hits = 0, encapsulated = 0;
        for (int k = 0; k < n; k++)
        {
            if (positions[k] < 0)
            {
                continue;
            }

            hits++;
            int i = index[k];
            uint action = stash[k];
            PacketRef packet = packets[i];
            ref readonly ParsedPacket p = ref meta[i];
            Eni eni = enis[eniOf[i]]!;
            Meter(meter, eni, action, packet.Length - p.InnerL2);
            uint a = action & PolicyTables.NoAction;
            bool done = false;
            if (!outbound[i])
            {
                done = TunnelHeaders.Encapsulate(packet, p.InnerL2, EncapKind.Vxlan, applianceMac, neighborMac, vip, eni.VmUnderlayIp, eni.VmVni, p.FlowHash);
            }
            else if (a < (uint)actions.Length && eni.NatOut is null)
            {
                TunnelAction ta = actions[a];
                if (ta.Kind == TunnelActionKind.Encap)
                {
                    if (ta.InnerDestinationMac != 0)
                    {
                        TunnelHeaders.WriteMac(packet.Data[p.InnerL2..], ta.InnerDestinationMac);
                    }

                    done = TunnelHeaders.Encapsulate(packet, p.InnerL2, ta.Encap, applianceMac, neighborMac, vip, ta.UnderlayDestination, ta.Vni, p.FlowHash);
                }
            }

            if (done)
            {
                egress[i] = port;
                encapsulated++;
            }
            else
            {
                Rewrite(i, action, ingressPort, packets, meta, egress, drops);
            }

            if (holding && (table.Entry(positions[k]).Flags & FlowFlags.SyncPending) != 0)
            {
                HoldBehindPending(i, packets, egress, drops);
            }
        }

        Counters.FlowHits += hits;
        Counters.Encapsulated += encapsulated;
    }

    /// <summary>Applies a flow's decision to packet <paramref name="i"/>: meter, rewrite, choose the port.</summary>
    private void Apply(int i, uint action, int ingressPort, ReadOnlySpan<PacketRef> packets, ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops)
    {
        Meter(Counters.Meter, _tables.Enis[_eniOf[i]]!, action, packets[i].Length - meta[i].InnerL2);
        Rewrite(i, action, ingressPort, packets, meta, egress, drops);
    }

    /// <summary>Counts a packet of <paramref name="bytes"/> in its ENI's bucket for the action word's meter class (top 8 bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Meter(long[] meter, Eni eni, uint action, int bytes)
    {
        int bucket = (eni.Index * PolicyTables.MaxMeterClasses + (int)(action >> 24)) * 2;
        meter[bucket]++;
        meter[bucket + 1] += bytes;
    }

    /// <summary>Every rewrite (the fast loop's two common ones included, when they fail), and the choice of port.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Rewrite(int i, uint action, int ingressPort, ReadOnlySpan<PacketRef> packets, ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops)
    {
        PolicyTables t = _tables;
        PacketRef packet = packets[i];
        ref readonly ParsedPacket p = ref meta[i];
        Eni eni = t.Enis[_eniOf[i]]!;
        PipelineCounters c = Counters;
        bool ok;
        if (_outbound[i])
        {
            uint index = action & PolicyTables.NoAction;
            if (index == PolicyTables.NoAction)
            {
                Drop(i, DropReason.RouteMiss, egress, drops);
                return;
            }

            if (eni.NatOut is not null && !p.IsIpv6)
            {
                ApplySourceNat(eni.NatOut, packet.Data, in p);
            }

            TunnelAction a = t.Actions[index];
            int innerL2 = p.InnerL2;
            if (a.Kind == TunnelActionKind.ServiceTunnel)
            {
                ServiceTunnel st = t.ServiceTunnels[a.Service];
                innerL2 = p.HasL4 ? Nat46.ToIpv6(packet.Data, p.InnerL2, p.L3, p.L4, p.L4Protocol, st.SourcePrefix, st.DestinationPrefix) : -1;
                if (innerL2 < 0)
                {
                    Drop(i, DropReason.ServiceTunnelUntranslatable, egress, drops);
                    return;
                }

                c.NatTranslations++;
            }

            if (a.Kind == TunnelActionKind.Direct)
            {
                ok = TunnelHeaders.Decapsulate(packet, p.InnerL2, t.ApplianceMac, t.NeighborMac);
                c.Decapsulated++;
            }
            else
            {
                if (a.InnerDestinationMac != 0)
                {
                    TunnelHeaders.WriteMac(packet.Data[innerL2..], a.InnerDestinationMac);
                }

                ok = TunnelHeaders.Encapsulate(packet, innerL2, a.Encap, t.ApplianceMac, t.NeighborMac, t.Vip, a.UnderlayDestination, a.Vni, p.FlowHash);
                c.Encapsulated++;
            }
        }
        else
        {
            // Inbound: deliver to the VM's host with the VM's VNI.
            ok = TunnelHeaders.Encapsulate(packet, p.InnerL2, EncapKind.Vxlan, t.ApplianceMac, t.NeighborMac, t.Vip, eni.VmUnderlayIp, eni.VmVni, p.FlowHash);
            c.Encapsulated++;
        }

        if (!ok)
        {
            Drop(i, DropReason.EncapNoRoom, egress, drops);
            return;
        }

        egress[i] = (ushort)(t.UplinkPort >= 0 ? t.UplinkPort : ingressPort);
    }

    /// <summary>
    /// NAT64 for replies from a service tunnel: an IPv6 packet between the tunnel's two /96
    /// prefixes becomes the IPv4 packet the VM's flow knows, before the flow key is built.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DropReason ServiceTunnelReturn(PolicyTables t, Span<byte> f, ref ParsedPacket p)
    {
        UInt128 src = BinaryPrimitives.ReadUInt128BigEndian(f[(p.L3 + 8)..]);
        UInt128 dst = BinaryPrimitives.ReadUInt128BigEndian(f[(p.L3 + 24)..]);
        foreach (ServiceTunnel st in t.ServiceTunnels)
        {
            if (dst >> 32 != st.SourcePrefix >> 32 || src >> 32 != st.DestinationPrefix >> 32)
            {
                continue;
            }

            int l2 = p.HasL4 ? Nat46.ToIpv4(f, p.InnerL2, p.L3, p.L4, p.L4Protocol) : -1;
            if (l2 < 0)
            {
                return DropReason.ServiceTunnelUntranslatable;
            }

            p.InnerL2 = (ushort)l2;
            p.InnerL3 = (ushort)(l2 + 14);
            p.EtherType = EtherTypes.Ipv4;
            p.Flags &= ~(PacketFlags.Ipv6 | PacketFlags.Ipv6Extensions);
            Counters.NatTranslations++;
            return DropReason.None;
        }

        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ApplySourceNat(U64Map natOut, Span<byte> frame, in ParsedPacket p)
    {
        int outside = natOut.Get(BinaryPrimitives.ReadUInt32BigEndian(frame[(p.L3 + 12)..]));
        if (outside >= 0)
        {
            StaticNat.Rewrite(frame, p.L3, p.L4, p.L4Protocol, p.HasL4, source: true, (uint)outside);
            Counters.NatTranslations++;
        }
    }

    private void Drop(int i, DropReason reason, Span<ushort> egress, Span<DropReason> drops)
    {
        egress[i] = Egress.Drop;
        drops[i] = reason;
        Counters.EniDrops[_eniOf[i]]++;
    }
}
