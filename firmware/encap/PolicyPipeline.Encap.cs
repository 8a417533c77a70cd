using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Plans;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Nat;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>The rewrite step: outer headers (encap to a PA, delivery to the VM's host, decap for direct routes, NAT46 for service tunnels) and the choice of port.</summary>
public sealed partial class PolicyPipeline
{
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
}
