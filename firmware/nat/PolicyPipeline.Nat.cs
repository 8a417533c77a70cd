using SnicRuntime.Firmware.Plans;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Nat;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>The NAT step: static 1:1 source NAT outbound and NAT64 of replies from a service tunnel (NAT46 outbound is part of the rewrite).</summary>
public sealed partial class PolicyPipeline
{
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
}
