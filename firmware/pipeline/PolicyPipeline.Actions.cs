using SnicRuntime.Contracts.Plans;
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

    private void Drop(int i, DropReason reason, Span<ushort> egress, Span<DropReason> drops)
    {
        egress[i] = Egress.Drop;
        drops[i] = reason;
        Counters.EniDrops[_eniOf[i]]++;
    }
}
