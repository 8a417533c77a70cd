using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Plans;

public static partial class PlanCompiler
{
    /// <summary>
    /// Each route table: its routes, an LPM per family (IPv4 as an interval map, IPv6 a trie) to
    /// a route's index, and ECMP members as actions per (group, VNET), since the VNET decides the VNI.
    /// </summary>
    private static Dictionary<string, RouteTable> BuildRouteTables(PlanValidator.ValidPlan v, List<TunnelAction> actions, Dictionary<string, int> serviceAction)
    {
        var ecmpActions = new Dictionary<(string, int), int[]>();
        int[] EcmpActionsFor(string group, int vnet)
        {
            if (!ecmpActions.TryGetValue((group, vnet), out int[]? list))
            {
                list = v.EcmpGroupsByName[group].Select(pa =>
                {
                    actions.Add(new TunnelAction(TunnelActionKind.Encap, EncapKind.Vxlan, pa, v.VnetList[vnet].Vni, 0));
                    return actions.Count - 1;
                }).ToArray();
                ecmpActions[(group, vnet)] = list;
            }

            return list;
        }

        var tables = new Dictionary<string, RouteTable>(StringComparer.Ordinal);
        foreach ((string name, List<PlanValidator.ParsedRoute> parsed) in v.RouteTablesByName)
        {
            var routes = parsed.Select(r => new Route(r.Kind, r.Vnet, r.OverlayIp,
                r.EcmpGroup is null ? null : EcmpActionsFor(r.EcmpGroup, r.Vnet), r.MeterClass,
                r.ServiceTunnel is null ? -1 : serviceAction[r.ServiceTunnel])).ToArray();
            var v4 = IntervalMap<uint>.Build(parsed.Select((r, i) => (r, i)).Where(x => !x.r.Prefix.IsIpv6)
                .Select(x => PrefixRange<uint>.Of(x.r.Prefix.V4, x.r.Prefix.Length, x.i)));
            var v6 = Lpm6.Build(parsed.Select((r, i) => (r, i)).Where(x => x.r.Prefix.IsIpv6)
                .Select(x => (x.r.Prefix.Address, x.r.Prefix.Length, x.i)));
            tables[name] = new RouteTable(name, v4, v6, routes);
        }

        return tables;
    }
}
