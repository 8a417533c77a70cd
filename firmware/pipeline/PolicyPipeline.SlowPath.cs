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
    /// <summary>
    /// A packet with no current flow: create one, re-decide a stale one, or drop. The policy
    /// decision was made for the whole burst beforehand (<see cref="DecideBurst"/>); this pass is
    /// sequential because a flow created here may be hit by a later packet of the same burst.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Miss<TKey>(FlowTable<TKey> table, in TKey key, bool forward, int j, int ingressPort, ReadOnlySpan<PacketRef> packets,
        ReadOnlySpan<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) where TKey : unmanaged, IFlowKey<TKey>
    {
        int i = _mPacket[j];
        ref readonly ParsedPacket p = ref meta[i];
        PolicyTables t = _tables;
        int existing = table.Lookup(key); // made or re-decided by an earlier packet of this burst?
        if (existing >= 0 && table.Entry(existing).Generation == t.Generation16)
        {
            table.Touch(existing, NowMs, p.TcpFlags, packets[i].Length);
            Counters.FlowHits++;
            Apply(i, table.Entry(existing).Action, ingressPort, packets, meta, egress, drops);
            if (_hold is not null && (table.Entry(existing).Flags & FlowFlags.SyncPending) != 0)
            {
                HoldBehindPending(i, packets, egress, drops);
            }

            return;
        }

        PipelineCounters c = Counters;
        Eni eni = t.Enis[_eniOf[i]]!;
        if (existing < 0)
        {
            if (_sync is not null && ModeOfEni(eni.Index) == Ha.HaMode.Draining)
            {
                // Handing over: new flows are the peer's, even ones it redirected here (the peer
                // decides what comes back redirected, so this is two hops at most), so that
                // nothing new enters the outbox and the hand-over can finish.
                RedirectToPeer(t, i, ingressPort, packets, meta, egress, drops);
                return;
            }

            c.FlowMisses++;
            // SPEC §2: only a SYN creates a TCP flow; anything else without a flow is dropped.
            if (CannotCreate(in p))
            {
                Drop(i, DropReason.NoFlow, egress, drops);
                return;
            }
        }

        if (_mReason[j] != DropReason.None)
        {
            if (existing >= 0)
            {
                uint version = table.Entry(existing).Version + 1;
                table.Delete(existing);
                c.FlowsRevoked++;
                ReplicateDelete(key, version);
            }

            Drop(i, _mReason[j], egress, drops);
            return;
        }

        uint action = _mAction[j];
        if (existing >= 0)
        {
            ref FlowEntry entry = ref table.Entry(existing);
            entry.Action = action;
            entry.Generation = t.Generation16;
            entry.Version++;
            table.Touch(existing, NowMs, p.TcpFlags, packets[i].Length);
            c.FlowsReevaluated++;
            ReplicateChange(key, table.Entry(existing), p.FlowHash);
        }
        else
        {
            FlowEntry entry = FlowEntry.ForFirstPacket(action, NowMs, packets[i].Length, t.Generation16, in p, forward);
            if (table.Insert(key, entry, out int position) == InsertResult.Full)
            {
                Drop(i, DropReason.FlowTableFull, egress, drops);
                return;
            }

            c.FlowsCreated++;
            c.EniFlowsCreated[eni.Index]++;
            Apply(i, action, ingressPort, packets, meta, egress, drops);
            if (_sync is not null && ReplicatesNewFlow(eni.Index, i))
            {
                ReplicateNewFlow(table, key, position, i, packets, meta, egress, drops);
            }

            return;
        }

        Apply(i, action, ingressPort, packets, meta, egress, drops);
    }

    /// <summary>Turns a route lookup result into the flow's action word (or a drop reason).</summary>
    private bool Resolve(PolicyTables t, Eni eni, int r, UInt128 dst, bool v6, uint flowHash, out uint action, out DropReason reason)
    {
        action = PolicyTables.NoAction;
        if (r < 0)
        {
            reason = DropReason.RouteMiss;
            return false;
        }

        ref readonly Route route = ref eni.RouteTable!.Routes[r];
        int index;
        switch (route.Kind)
        {
            case RouteKind.Drop:
                reason = DropReason.RouteDrop;
                return false;
            case RouteKind.Direct:
                index = t.DirectAction;
                break;
            case RouteKind.ServiceTunnel:
                index = route.ServiceAction;
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

    /// <summary>The mapping key a route will look up, for prefetching (0 when none or IPv6).</summary>
    private static ulong MappingKeyOf(Eni eni, int r, UInt128 dst, bool v6)
    {
        if (r < 0)
        {
            return 0;
        }

        ref readonly Route route = ref eni.RouteTable!.Routes[r];
        return route.Kind switch
        {
            RouteKind.Vnet when route.EcmpActions is null && !v6 => (ulong)route.Vnet << 32 | (uint)dst,
            RouteKind.VnetDirect when !route.OverlayIp!.Value.IsIpv6 => (ulong)route.Vnet << 32 | route.OverlayIp.Value.V4,
            _ => 0,
        };
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
    /// DASH ACL stage semantics (one packet; the pipeline runs the same steps burst-wise): stages run in order; a stage without a group is skipped; in a
    /// stage, the first matching rule decides: permit/deny end the evaluation, the "-and-continue"
    /// actions record a verdict and go on; a stage where no rule matches denies (default deny).
    /// After the last stage the last recorded verdict stands (permit if none was recorded).
    /// </summary>
    internal static bool AclPermits<T>(AclGroup<T>?[] stages, T src, T dst, in ParsedPacket p)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        bool recorded = true;
        for (int s = 0; s < stages.Length; s++)
        {
            AclGroup<T>? group = stages[s];
            if (group is null)
            {
                continue;
            }

            int rule = group.Classify(src, dst, p.L4Protocol, p.SrcPort, p.DstPort);
            if (AclStep(rule < 0 ? null : group.RuleAt(rule).Action, ref recorded) is bool final)
            {
                return final;
            }
        }

        return recorded;
    }

    /// <summary>
    /// One stage's effect on an evaluation: the final verdict (permit/deny, or deny when no rule
    /// matched: default deny), or null to go on with <paramref name="recorded"/> updated by an
    /// "-and-continue" rule.
    /// </summary>
    internal static bool? AclStep(AclAction? matched, ref bool recorded)
    {
        switch (matched)
        {
            case null:
                return false;
            case AclAction.Permit:
                return true;
            case AclAction.Deny:
                return false;
            case AclAction.PermitAndContinue:
                recorded = true;
                return null;
            default:
                recorded = false;
                return null;
        }
    }

    /// <summary>
    /// Rendezvous (highest-random-weight) hashing: each member scores hash(flow, member) and the
    /// highest wins. Removing a member moves only the flows it had; adding one takes only the
    /// flows it now wins (Thaler and Ravishankar 1998).
    /// </summary>
    internal static int EcmpMember(uint flowHash, int[] members, ActionTable actions)
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
