using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Pipeline;

public sealed partial class PolicyPipeline
{
    /// <summary>A packet with no current flow: create one, re-decide a stale one, or drop.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Miss<TKey>(FlowTable<TKey> table, in TKey key, bool forward, int i, int ingressPort, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey>
    {
        ref readonly ParsedPacket p = ref meta[i];
        PolicyTables t = _tables;
        int existing = table.Lookup(key); // made or re-decided by an earlier packet of this burst?
        if (existing >= 0 && table.Entry(existing).Generation == t.Generation16)
        {
            table.Touch(existing, NowMs, p.TcpFlags, packets[i].Length);
            Counters.FlowHits++;
            Apply(i, table.Entry(existing).Action, ingressPort, packets, meta, egress, drops);
            return;
        }

        PipelineCounters c = Counters;
        Eni eni = t.Enis[_eniOf[i]]!;
        if (existing < 0)
        {
            c.FlowMisses++;
            // SPEC §2: only a SYN creates a TCP flow; anything else without a flow is dropped.
            if (p.IsTcp && (p.TcpFlags & (byte)(TcpFlags.Syn | TcpFlags.Ack)) != (byte)TcpFlags.Syn)
            {
                Drop(i, DropReason.NoFlow, egress, drops);
                return;
            }
        }

        if (!Decide(t, eni, _outbound[i], packets[i].Data, in p, out uint action, out DropReason reason))
        {
            if (existing >= 0)
            {
                table.Delete(existing);
                c.FlowsRevoked++;
            }

            Drop(i, reason, egress, drops);
            return;
        }

        if (existing >= 0)
        {
            ref FlowEntry entry = ref table.Entry(existing);
            entry.Action = action;
            entry.Generation = t.Generation16;
            entry.Version++;
            table.Touch(existing, NowMs, p.TcpFlags, packets[i].Length);
            c.FlowsReevaluated++;
        }
        else
        {
            FlowEntry entry = FlowEntry.ForFirstPacket(action, NowMs, packets[i].Length, t.Generation16, in p, forward);
            if (table.Insert(key, entry, out _) == InsertResult.Full)
            {
                Drop(i, DropReason.FlowTableFull, egress, drops);
                return;
            }

            c.FlowsCreated++;
            c.EniFlowsCreated[eni.Index]++;
        }

        Apply(i, action, ingressPort, packets, meta, egress, drops);
    }

    /// <summary>
    /// The policy decision for a flow's first packet: returns its action word (outbound action
    /// index | meter class &lt;&lt; 24) or a drop reason. Reads only the immutable generation.
    /// </summary>
    internal bool Decide(PolicyTables t, Eni eni, bool outbound, ReadOnlySpan<byte> f, in ParsedPacket p, out uint action, out DropReason reason)
    {
        action = PolicyTables.NoAction;
        int l3 = p.L3;
        bool v6 = p.IsIpv6;
        UInt128 src = v6 ? BinaryPrimitives.ReadUInt128BigEndian(f[(l3 + 8)..]) : BinaryPrimitives.ReadUInt32BigEndian(f[(l3 + 12)..]);
        UInt128 dst = v6 ? BinaryPrimitives.ReadUInt128BigEndian(f[(l3 + 24)..]) : BinaryPrimitives.ReadUInt32BigEndian(f[(l3 + 16)..]);
        if (!outbound)
        {
            if (!InboundRouteAllows(t, eni, f, in p, out reason))
            {
                return false;
            }
        }

        Counters.AclEvaluations++;
        bool permitted = v6
            ? AclPermits(outbound ? eni.OutboundV6 : eni.InboundV6, src, dst, in p)
            : AclPermits(outbound ? eni.OutboundV4 : eni.InboundV4, (uint)src, (uint)dst, in p);
        if (!permitted)
        {
            reason = DropReason.AclDeny;
            return false;
        }

        if (!outbound)
        {
            // The reply leaves outbound toward the remote CA: resolve it now, in the ENI's VNET.
            int reply = MappingOf(t, eni.Vnet, src, v6);
            action = reply >= 0 ? (uint)reply : PolicyTables.NoAction;
            reason = DropReason.None;
            return true;
        }

        return Route(t, eni, dst, v6, p.FlowHash, out action, out reason);
    }

    private bool Route(PolicyTables t, Eni eni, UInt128 dst, bool v6, uint flowHash, out uint action, out DropReason reason)
    {
        action = PolicyTables.NoAction;
        Counters.RouteLookups++;
        RouteTable? table = eni.RouteTable;
        int r = table is null ? -1 : v6 ? table.V6.Lookup(dst) : table.V4.Lookup((uint)dst);
        if (r < 0)
        {
            reason = DropReason.RouteMiss;
            return false;
        }

        Route route = table!.Routes[r];
        int index;
        switch (route.Kind)
        {
            case RouteKind.Drop:
                reason = DropReason.RouteDrop;
                return false;
            case RouteKind.Direct:
                index = t.DirectAction;
                break;
            case RouteKind.Vnet when route.EcmpActions is int[] members:
                index = members[EcmpMember(flowHash, members, t.Actions)];
                break;
            case RouteKind.VnetDirect:
                index = MappingOf(t, route.Vnet, route.OverlayIp!.Value.Address, route.OverlayIp.Value.IsIpv6);
                break;
            default:
                index = MappingOf(t, route.Vnet, dst, v6);
                break;
        }

        if (index < 0)
        {
            reason = DropReason.MappingMiss;
            return false;
        }

        action = (uint)index | (uint)route.MeterClass << 24;
        reason = DropReason.None;
        return true;
    }

    private int MappingOf(PolicyTables t, int vnet, UInt128 ca, bool v6)
    {
        Counters.MappingLookups++;
        if (!v6)
        {
            return t.Mappings4.Get((ulong)vnet << 32 | (uint)ca);
        }

        return t.Mappings6.TryGetValue((vnet, ca), out int index) ? index : -1;
    }

    private static bool InboundRouteAllows(PolicyTables t, Eni eni, ReadOnlySpan<byte> f, in ParsedPacket p, out DropReason reason)
    {
        uint pa = BinaryPrimitives.ReadUInt32BigEndian(f[(p.OuterL3 + 12)..]);
        int best = -1;
        InboundRoute[] routes = eni.InboundRoutes;
        for (int r = 0; r < routes.Length; r++)
        {
            // An ENI has a handful of inbound routes: a scan for the longest match is cheapest.
            if (routes[r].Vni == p.Vni && pa >= routes[r].UnderlayFirst && pa <= routes[r].UnderlayLast
                && (best < 0 || routes[r].Length > routes[best].Length))
            {
                best = r;
            }
        }

        if (best < 0)
        {
            reason = DropReason.InboundRouteMiss;
            return false;
        }

        if (routes[best].Action == InboundRouteAction.DecapPaValidate && t.KnownPas.Get((ulong)eni.Vnet << 32 | pa) < 0)
        {
            reason = DropReason.PaValidationFailed;
            return false;
        }

        reason = DropReason.None;
        return true;
    }

    /// <summary>
    /// DASH ACL stage semantics: stages run in order; a stage without a group is skipped; in a
    /// stage, the first matching rule decides: permit/deny end the evaluation, the "-and-continue"
    /// actions record a verdict and go on; a stage where no rule matches denies (default deny).
    /// After the last stage the last recorded verdict stands (permit if none was recorded).
    /// </summary>
    internal static bool AclPermits<T>(AclGroup<T>?[] stages, T src, T dst, in ParsedPacket p)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        bool verdict = true;
        for (int s = 0; s < stages.Length; s++)
        {
            AclGroup<T>? group = stages[s];
            if (group is null)
            {
                continue;
            }

            int rule = group.Classify(src, dst, p.L4Protocol, p.SrcPort, p.DstPort);
            if (rule < 0)
            {
                return false;
            }

            switch (group.RuleAt(rule).Action)
            {
                case AclAction.Permit:
                    return true;
                case AclAction.Deny:
                    return false;
                case AclAction.PermitAndContinue:
                    verdict = true;
                    break;
                default:
                    verdict = false;
                    break;
            }
        }

        return verdict;
    }

    /// <summary>
    /// Rendezvous (highest-random-weight) hashing: each member scores hash(flow, member) and the
    /// highest wins. Removing a member moves only the flows it had; adding one takes only the
    /// flows it now wins (Thaler and Ravishankar 1998).
    /// </summary>
    internal static int EcmpMember(uint flowHash, int[] members, TunnelAction[] actions)
    {
        int best = 0;
        ulong bestScore = 0;
        for (int m = 0; m < members.Length; m++)
        {
            ulong score = Mix((ulong)flowHash << 32 | actions[members[m]].UnderlayDestination);
            if (m == 0 || score > bestScore)
            {
                best = m;
                bestScore = score;
            }
        }

        return best;
    }

    // SplitMix64's finalizer: a full-avalanche 64-bit mix.
    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
