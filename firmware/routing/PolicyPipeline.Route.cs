using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Plans;
using System.Buffers.Binary;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Nat;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Routing;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>
/// The routing step: outbound LPM per ENI route table (in passes over a vector's misses, so their
/// cache misses overlap), ECMP member choice, inbound routes with PA validation, and the action
/// word a route resolves to.
/// </summary>
public sealed partial class PolicyPipeline
{
    /// <summary>Route lookups, then mapping lookups, each in passes over the permitted misses.</summary>
    private void RouteAndMap(PolicyTables t, int m, ReadOnlySpan<ParsedPacket> meta)
    {
        // Pass 1: outbound v4 route index entries requested.
        for (int j = 0; j < m; j++)
        {
            if (_mState[j] == Permitted && _outbound[_mPacket[j]] && !_mV6[j] && t.Enis[_eniOf[_mPacket[j]]]!.RouteTable is RouteTable rt)
            {
                rt.V4.PrefetchIndex((uint)_mDst[j]);
            }
        }

        // Pass 2: search windows read (their middles requested).
        for (int j = 0; j < m; j++)
        {
            if (_mState[j] == Permitted && _outbound[_mPacket[j]] && !_mV6[j] && t.Enis[_eniOf[_mPacket[j]]]!.RouteTable is RouteTable rt)
            {
                (_mLo[j], _mHi[j]) = rt.V4.Window((uint)_mDst[j]);
            }
        }

        // Pass 3: routes found; the mapping slots they will read requested.
        for (int j = 0; j < m; j++)
        {
            int i = _mPacket[j];
            if (_mState[j] != Permitted)
            {
                continue;
            }

            Eni eni = t.Enis[_eniOf[i]]!;
            if (!_outbound[i])
            {
                // The reply's action: the remote CA's mapping in the ENI's VNET.
                if (!_mV6[j])
                {
                    t.Mappings4.Prefetch((ulong)eni.Vnet << 32 | (uint)_mSrc[j]);
                }

                continue;
            }

            Counters.RouteLookups++;
            RouteTable? rt = eni.RouteTable;
            int r = rt is null ? -1 : _mV6[j] ? rt.V6.Lookup(_mDst[j]) : rt.V4.Search((uint)_mDst[j], _mLo[j], _mHi[j]);
            _mRoute[j] = r;
            if (r >= 0)
            {
                CacheHint.Prefetch(ref rt!.Routes[r]);
            }
        }

        // Pass 3b: the mapping slots the routes will read requested.
        for (int j = 0; j < m; j++)
        {
            int i = _mPacket[j];
            if (_mState[j] == Permitted && _outbound[i])
            {
                ulong key = MappingKeyOf(t.Enis[_eniOf[i]]!, _mRoute[j], _mDst[j], _mV6[j]);
                if (key != 0)
                {
                    t.Mappings4.Prefetch(key);
                }
            }
        }

        // Pass 4: actions.
        for (int j = 0; j < m; j++)
        {
            int i = _mPacket[j];
            if (_mState[j] != Permitted)
            {
                continue;
            }

            Eni eni = t.Enis[_eniOf[i]]!;
            if (!_outbound[i])
            {
                int reply = MappingOf(t, eni.Vnet, _mSrc[j], _mV6[j]);
                _mAction[j] = reply >= 0 ? (uint)reply : PolicyTables.NoAction;
            }
            else if (!Resolve(t, eni, _mRoute[j], _mDst[j], _mV6[j], meta[i].FlowHash, out _mAction[j], out DropReason reason))
            {
                Refuse(j, reason);
                continue;
            }

            // The new flow's first packet reads its action record when the flow is made: request it
            // now (a million mappings means a million records, read at random).
            t.Actions.Prefetch(_mAction[j] & PolicyTables.NoAction);
        }
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
